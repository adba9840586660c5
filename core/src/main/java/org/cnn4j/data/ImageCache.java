package org.cnn4j.data;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.io.AtomicFiles;
import org.cnn4j.io.Json;
import org.cnn4j.io.Settings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file of decoded images, memory-mapped: an image folder's images prepared one way, for sets
 * larger than the memory they may take, and for the next run over the same files.
 *
 * <p>Layout: the kept images' pixels, image after image (c·h·w bytes each, as a {@link Dataset}
 * holds them); then a JSON header (the key, the number of images listed, the indices of those that
 * could not be decoded, the sample shape); then the header's length and the magic number
 * {@code C4JC}, as two big-endian 32-bit integers. The key is a SHA-256 over the preprocessing, the
 * classes and every file's path, size, modification time and label, so a changed, added or removed
 * file or another image size makes another key and the cache is rebuilt. Written atomically (see
 * {@link AtomicFiles}); a file that does not match its key or its own sizes is ignored and
 * rewritten.
 */
final class ImageCache {
    private static final Logger log = LoggerFactory.getLogger(ImageCache.class);
    static final String SUFFIX = ".pixels";
    private static final int MAGIC = 0x43344A43; // "C4JC"
    private static final int TRAILER = 8;

    private ImageCache() {
    }

    /** The images as the cache holds them: their pixels (mapped) and which listed images were left out. */
    record Cached(MemorySegment pixels, List<Integer> bad) {
    }

    /** Decodes the listed images into a segment (image i at i·size) and says which could not be decoded. */
    @FunctionalInterface
    interface Decoder {
        boolean[] decode(MemorySegment into) throws IOException;
    }

    /** The key of these files prepared as {@code p} (see the class comment). */
    static String key(List<Path> files, List<Integer> labels, List<String> classes, Preprocessing p) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
        sha.update(("cnn4j image cache 1\n" + Json.write(p.config()) + "\n" + Json.write(classes) + "\n").getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < files.size(); i++) {
            BasicFileAttributes a = Files.readAttributes(files.get(i), BasicFileAttributes.class);
            sha.update((files.get(i).toAbsolutePath() + "\0" + a.size() + "\0" + a.lastModifiedTime().toMillis() + "\0" + labels.get(i) + "\n")
                    .getBytes(StandardCharsets.UTF_8));
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** The cache file of a set of images under a key, in {@code dir}. */
    static Path file(Path dir, String name, String key) {
        return dir.resolve(safe(name) + "-" + key.substring(0, 16) + SUFFIX);
    }

    private static String safe(String name) {
        return name.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    /**
     * The cached images of {@code file} when it holds {@code count} listed images of
     * {@code sampleSize} bytes under {@code key}; null when there is no such file or it does not
     * match (then it is rebuilt).
     */
    static Cached open(Path file, String key, int count, long sampleSize) {
        if (!Files.isRegularFile(file)) return null;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long length = channel.size();
            if (length < TRAILER) return mismatch(file, "shorter than its trailer");
            ByteBuffer trailer = ByteBuffer.allocate(TRAILER);
            channel.read(trailer, length - TRAILER);
            int headerLength = trailer.getInt(0), magic = trailer.getInt(4);
            if (magic != MAGIC || headerLength < 2 || headerLength > length - TRAILER || headerLength > 64 + 12L * count + 4096) {
                return mismatch(file, "no cnn4j image cache trailer");
            }
            ByteBuffer header = ByteBuffer.allocate(headerLength);
            channel.read(header, length - TRAILER - headerLength);
            Settings s = new Settings(file.toString(), Json.readObject(new String(header.array(), StandardCharsets.UTF_8)));
            if (!key.equals(s.string("key"))) return mismatch(file, "another key");
            if (s.integer("images") != count || s.longInteger("sampleBytes") != sampleSize) return mismatch(file, "other counts");
            List<Integer> bad = new ArrayList<>();
            for (int i : s.integers("bad", -1)) {
                if (i < 0 || i >= count || (!bad.isEmpty() && i <= bad.getLast())) return mismatch(file, "bad indices out of order or range");
                bad.add(i);
            }
            long pixels = (count - bad.size()) * sampleSize;
            if (pixels + headerLength + TRAILER != length) return mismatch(file, "a size that does not add up");
            MemorySegment mapped = pixels == 0 ? MemorySegment.ofArray(new byte[0]) : channel.map(FileChannel.MapMode.READ_ONLY, 0, pixels, Arena.ofAuto());
            return new Cached(mapped, bad);
        } catch (IOException | IllegalArgumentException e) {
            return mismatch(file, e.getMessage());
        }
    }

    private static Cached mismatch(Path file, String why) {
        log.info("rebuilding the image cache {}: {}", file, why);
        return null;
    }

    /**
     * Decodes {@code count} images of {@code sampleSize} bytes into a new cache file (atomically),
     * leaves out those the decoder could not read, removes the caches of the same set under other
     * keys, and returns the result mapped.
     */
    static Cached write(Path file, String key, int count, long sampleSize, Decoder decoder) throws IOException {
        List<Integer> bad = new ArrayList<>();
        AtomicFiles.writeChannel(file, channel -> {
            long bytes = count * sampleSize;
            try (Arena arena = Arena.ofShared()) {
                MemorySegment pixels = bytes == 0 ? MemorySegment.ofArray(new byte[0]) : channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
                boolean[] failed = decoder.decode(pixels);
                long kept = 0;
                for (int i = 0; i < count; i++) {
                    if (failed[i]) {
                        bad.add(i);
                        continue;
                    }
                    if (kept != i) MemorySegment.copy(pixels, i * sampleSize, pixels, kept * sampleSize, sampleSize);
                    kept++;
                }
                if (bytes > 0) pixels.force();
            }
            long kept = (count - bad.size()) * sampleSize;
            channel.truncate(kept);
            Map<String, Object> header = new LinkedHashMap<>();
            header.put("key", key);
            header.put("images", count);
            header.put("sampleBytes", sampleSize);
            header.put("bad", bad);
            byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
            ByteBuffer tail = ByteBuffer.allocate(json.length + TRAILER).put(json).putInt(json.length).putInt(MAGIC).flip();
            long at = kept;
            while (tail.hasRemaining()) at += channel.write(tail, at);
        });
        removeOthers(file);
        Cached cached = open(file, key, count, sampleSize);
        if (cached == null) throw new IOException(file + ": the image cache just written does not read back");
        return cached;
    }

    /** Removes the caches of the same set of images under other keys (same name, other hash). */
    private static void removeOthers(Path file) {
        String own = file.getFileName().toString(), stem = own.substring(0, own.length() - SUFFIX.length() - 17);
        try (DirectoryStream<Path> caches = Files.newDirectoryStream(file.toAbsolutePath().getParent(), stem + "-*" + SUFFIX)) {
            for (Path p : caches) {
                String n = p.getFileName().toString();
                if (!n.equals(own) && n.length() == own.length() && Files.deleteIfExists(p)) log.info("removed the outdated image cache {}", p);
            }
        } catch (IOException e) {
            log.debug("could not look for outdated image caches beside {}: {}", file, e.toString());
        }
    }
}
