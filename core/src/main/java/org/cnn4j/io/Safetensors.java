package org.cnn4j.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors container (Hugging Face), float32 only: an 8-byte little-endian header length
 * N, N bytes of JSON — {@code {"__metadata__": {string: string}, name: {"dtype": "F32", "shape":
 * [...], "data_offsets": [begin, end]}, ...}} padded with spaces to a multiple of 8 — then the
 * tensors' raw little-endian bytes, back to back, offsets relative to the end of the header.
 * Python reads these files with {@code safetensors.numpy.load_file}.
 *
 * <p>Reading trusts nothing: the header length, the JSON, each dtype, shape and offset are checked
 * against each other and against the file's size before any tensor is allocated, and a bad file is
 * rejected with a {@link FileFormatException} that says what is wrong.
 */
public final class Safetensors {
    /** The safetensors project's own limit on the header. */
    public static final long MAX_HEADER = 100L << 20;
    /** Tensor data are read through a buffer of this many bytes. */
    static final int CHUNK = 1 << 20;
    private static final String METADATA = "__metadata__";

    private Safetensors() {
    }

    /** A float32 tensor: its shape and its values, row-major. */
    public record Entry(int[] shape, float[] values) {
        public Entry {
            long size = 1;
            for (int d : shape) {
                if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
                size *= d;
            }
            if (size != values.length) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + size + " values, got " + values.length);
        }
    }

    /** A file's metadata and tensors, in file order. */
    public record Contents(Map<String, String> metadata, Map<String, Entry> tensors) {
    }

    public static void write(OutputStream out, Map<String, String> metadata, Map<String, Entry> tensors) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) header.put(METADATA, metadata);
        long offset = 0;
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            if (e.getKey().equals(METADATA)) throw new IllegalArgumentException("a tensor cannot be named " + METADATA);
            long bytes = 4L * e.getValue().values().length;
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", "F32");
            info.put("shape", e.getValue().shape());
            info.put("data_offsets", List.of(offset, offset + bytes));
            header.put(e.getKey(), info);
            offset += bytes;
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        out.write(head.array());
        ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry t : tensors.values()) {
            for (float v : t.values()) {
                if (!chunk.hasRemaining()) {
                    out.write(chunk.array(), 0, chunk.position());
                    chunk.clear();
                }
                chunk.putFloat(v);
            }
        }
        out.write(chunk.array(), 0, chunk.position());
    }

    /** Reads and checks a whole file. */
    public static Contents read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new FileFormatException(file, "no such file");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new FileFormatException(file, 0, "the file is " + size + " bytes, too short for a safetensors header");
            long headerLength = readFully(ch, 0, 8, file).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (headerLength <= 0 || headerLength > size - 8 || headerLength > MAX_HEADER) {
                throw new FileFormatException(file, 0, "header length " + headerLength + " is impossible for a file of " + size
                        + " bytes (a safetensors file starts with the little-endian length of its JSON header)");
            }
            String text = StandardCharsets.UTF_8.newDecoder().decode(readFully(ch, 8, (int) headerLength, file)).toString();
            Map<String, Object> header;
            try {
                header = Json.readObject(text);
            } catch (IllegalArgumentException e) {
                throw new FileFormatException(file, 8, "the header is not a JSON object: " + e.getMessage());
            }
            long dataStart = 8 + headerLength, dataLength = size - dataStart;
            Map<String, String> metadata = metadata(file, header.get(METADATA));
            List<Slot> slots = new ArrayList<>();
            for (Map.Entry<String, Object> e : header.entrySet()) {
                if (!e.getKey().equals(METADATA)) slots.add(slot(file, e.getKey(), e.getValue(), dataLength));
            }
            checkLayout(file, slots, dataStart, dataLength);
            Map<String, Entry> tensors = new LinkedHashMap<>();
            ByteBuffer chunk = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            for (Slot s : slots) tensors.put(s.name, new Entry(s.shape, readFloats(ch, dataStart + s.begin, s.end - s.begin, chunk, file)));
            return new Contents(metadata, tensors);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new FileFormatException(file, 8, "the header is not valid UTF-8");
        }
    }

    private record Slot(String name, int[] shape, long begin, long end) {
    }

    private static Map<String, String> metadata(Path file, Object raw) throws FileFormatException {
        Map<String, String> metadata = new LinkedHashMap<>();
        if (raw == null) return metadata;
        if (!(raw instanceof Map<?, ?> map)) throw new FileFormatException(file, 8, "__metadata__ must be an object of strings");
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) throw new FileFormatException(file, 8, "__metadata__ entry '" + e.getKey() + "' is not a string");
            metadata.put((String) e.getKey(), s);
        }
        return metadata;
    }

    private static Slot slot(Path file, String name, Object raw, long dataLength) throws FileFormatException {
        String where = "tensor '" + name + "'";
        if (!(raw instanceof Map<?, ?> info)) throw new FileFormatException(file, 8, where + " is not described by an object: " + Json.describe(raw));
        Object dtype = info.get("dtype");
        if (!"F32".equals(dtype)) {
            throw new FileFormatException(file, 8, where + " has dtype " + (dtype == null ? "(none)" : Json.describe(dtype)) + "; cnn4j reads F32 tensors only");
        }
        if (!(info.get("shape") instanceof int[] dims)) {
            throw new FileFormatException(file, 8, where + " has no valid shape (a list of integers below 2^31): " + Json.describe(info.get("shape")));
        }
        long count = 1;
        for (int d : dims) {
            if (d < 0) throw new FileFormatException(file, 8, where + " has a negative dimension in " + Arrays.toString(dims));
            count *= d;
            if (count > Integer.MAX_VALUE) throw new FileFormatException(file, 8, where + " is larger than 2^31 values: " + Arrays.toString(dims));
        }
        long[] offsets = longs(info.get("data_offsets"));
        if (offsets == null || offsets.length != 2 || offsets[0] < 0 || offsets[1] < offsets[0]) {
            throw new FileFormatException(file, 8, where + " has invalid data_offsets " + Json.describe(info.get("data_offsets"))
                    + " (expected [begin, end], integers with 0 <= begin <= end < 2^63)");
        }
        if (offsets[1] > dataLength) {
            throw new FileFormatException(file, 8, where + " claims bytes [" + offsets[0] + ", " + offsets[1] + ") but the data section holds only "
                    + dataLength + " bytes (truncated file or corrupt header)");
        }
        if (offsets[1] - offsets[0] != 4 * count) {
            throw new FileFormatException(file, 8, where + " of shape " + Arrays.toString(dims) + " needs " + 4 * count + " bytes but data_offsets ["
                    + offsets[0] + ", " + offsets[1] + ") span " + (offsets[1] - offsets[0]));
        }
        return new Slot(name, dims, offsets[0], offsets[1]);
    }

    private static long[] longs(Object raw) {
        if (raw instanceof int[] a) return Arrays.stream(a).asLongStream().toArray();
        if (raw instanceof long[] a) return a;
        return null;
    }

    /** Tensors must tile the data section: no overlaps, no holes, nothing after the last one. */
    private static void checkLayout(Path file, List<Slot> slots, long dataStart, long dataLength) throws FileFormatException {
        List<Slot> sorted = new ArrayList<>(slots);
        sorted.sort(Comparator.comparingLong(Slot::begin).thenComparingLong(Slot::end));
        long at = 0;
        for (Slot s : sorted) {
            if (s.begin != at) {
                throw new FileFormatException(file, dataStart + Math.min(at, s.begin), "tensor '" + s.name + "' starts at data byte " + s.begin + " but the previous tensor ends at "
                        + at + (s.begin < at ? " (overlap)" : " (hole)"));
            }
            at = s.end;
        }
        if (at != dataLength) {
            throw new FileFormatException(file, dataStart + at, "the tensors end at data byte " + at + " but the file has " + (dataLength - at) + " more bytes");
        }
    }

    /** Reads {@code bytes} bytes at {@code position} as little-endian floats, a chunk at a time (a tensor may exceed 2 GiB). */
    private static float[] readFloats(FileChannel ch, long position, long bytes, ByteBuffer chunk, Path file) throws IOException {
        float[] values = new float[Math.toIntExact(bytes / 4)];
        for (int done = 0; done < values.length; ) {
            int n = Math.min(values.length - done, chunk.capacity() / 4);
            chunk.clear().limit(4 * n);
            readFully(ch, position + 4L * done, chunk, file);
            chunk.flip().asFloatBuffer().get(values, done, n);
            done += n;
        }
        return values;
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length, Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        readFully(ch, position, buf, file);
        return buf.flip();
    }

    private static void readFully(FileChannel ch, long position, ByteBuffer buf, Path file) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) throw new FileFormatException(file, position + buf.position(), "unexpected end of file");
        }
    }
}
