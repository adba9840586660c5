package org.cnn4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The safetensors container: exact layout, round trip, and every kind of bad file. */
class SafetensorsTest {
    @TempDir
    Path dir;

    private static Map<String, Safetensors.Entry> tensors() {
        Map<String, Safetensors.Entry> t = new LinkedHashMap<>();
        t.put("a.weight", new Safetensors.Entry(new int[] {2, 3}, new float[] {1, -2, 3.5f, Float.MIN_VALUE, -0f, 1e30f}));
        t.put("a.bias", new Safetensors.Entry(new int[] {2}, new float[] {0.25f, -7}));
        t.put("scalar", new Safetensors.Entry(new int[] {}, new float[] {42}));
        return t;
    }

    private Path file(byte[] bytes) throws IOException {
        Path f = dir.resolve("t.safetensors");
        Files.write(f, bytes);
        return f;
    }

    private static byte[] bytes(Map<String, String> metadata, Map<String, Safetensors.Entry> tensors) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Safetensors.write(out, metadata, tensors);
        return out.toByteArray();
    }

    /** A file with a hand-written header and n data bytes. */
    private static byte[] handmade(String header, int dataBytes) {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json).array();
    }

    @Test
    void layoutIsTheSafetensorsOne() throws IOException {
        byte[] b = bytes(Map.of("k", "v"), tensors());
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long n = buf.getLong();
        assertEquals(0, (8 + n) % 8, "data start 8-byte aligned");
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8).trim();
        assertEquals("{\"__metadata__\":{\"k\":\"v\"},\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"a.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                + "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[32,36]}}", header);
        assertEquals(8 + n + 36, b.length);
        buf.position((int) (8 + n));
        assertEquals(1f, buf.getFloat());
        assertEquals(-2f, buf.getFloat());
    }

    @Test
    void roundTripsBitForBit() throws IOException {
        Safetensors.Contents c = Safetensors.read(file(bytes(Map.of("cnn4j.format", "1"), tensors())));
        assertEquals(Map.of("cnn4j.format", "1"), c.metadata());
        assertEquals(tensors().keySet(), c.tensors().keySet());
        for (var e : tensors().entrySet()) {
            assertArrayEquals(e.getValue().shape(), c.tensors().get(e.getKey()).shape());
            float[] expected = e.getValue().values(), actual = c.tensors().get(e.getKey()).values();
            for (int i = 0; i < expected.length; i++) assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]));
        }
    }

    private String failure(byte[] bytes) throws IOException {
        Path f = file(bytes);
        return assertThrows(FileFormatException.class, () -> Safetensors.read(f)).getMessage();
    }

    @Test
    void rejectsShortFilesAndImpossibleHeaderLengths() throws IOException {
        assertTrue(failure(new byte[5]).contains("too short"), failure(new byte[5]));
        byte[] good = bytes(Map.of(), tensors());
        byte[] claimsTooMuch = good.clone();
        ByteBuffer.wrap(claimsTooMuch).order(ByteOrder.LITTLE_ENDIAN).putLong(0, good.length);
        assertTrue(failure(claimsTooMuch).contains("header length " + good.length + " is impossible"), failure(claimsTooMuch));
        byte[] negative = good.clone();
        ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -8);
        assertTrue(failure(negative).contains("header length -8 is impossible"), failure(negative));
    }

    @Test
    void rejectsBadJsonAndBadEntries() throws IOException {
        assertTrue(failure(handmade("{\"a\": [1, 2", 0)).contains("not a JSON object"), failure(handmade("{\"a\": [1, 2", 0)));
        assertTrue(failure(handmade("[1, 2]", 0)).contains("not a JSON object"));
        String f64 = failure(handmade("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8));
        assertTrue(f64.contains("tensor 'w' has dtype F64; cnn4j reads F32 tensors only"), f64);
        String shape = failure(handmade("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8));
        assertTrue(shape.contains("negative dimension"), shape);
        String mismatch = failure(handmade("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8));
        assertTrue(mismatch.contains("of shape [3] needs 12 bytes but data_offsets [0, 8) span 8"), mismatch);
        String meta = failure(handmade("{\"__metadata__\":{\"k\":3}}", 0));
        assertTrue(meta.contains("__metadata__ entry 'k' is not a string"), meta);
    }

    @Test
    void rejectsOffsetsBeyondTheEndOverlapsAndHoles() throws IOException {
        String beyond = failure(handmade("{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000],\"data_offsets\":[0,4000000]}}", 16));
        assertTrue(beyond.contains("claims bytes [0, 4000000) but the data section holds only 16 bytes"), beyond);
        String overlap = failure(handmade("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        assertTrue(overlap.contains("overlap"), overlap);
        String hole = failure(handmade("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8));
        assertTrue(hole.contains("(hole)"), hole);
        String trailing = failure(handmade("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12));
        assertTrue(trailing.contains("8 more bytes"), trailing);
        byte[] good = bytes(Map.of(), tensors());
        String truncated = failure(Arrays.copyOf(good, good.length - 4));
        assertTrue(truncated.contains("tensor 'scalar' claims bytes [32, 36) but the data section holds only 32 bytes"), truncated);
    }

    @Test
    void theHeaderIsStrictJsonAsOtherReadersWant() throws IOException {
        String good = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        assertEquals(1, Safetensors.read(file(handmade(good, 4))).tensors().size());
        String duplicate = failure(handmade("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        assertTrue(duplicate.contains("key 'w' appears twice"), duplicate);
        String innerDuplicate = failure(handmade("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        assertTrue(innerDuplicate.contains("key 'dtype' appears twice"), innerDuplicate);
        for (String lenient : new String[] {
                "{/* comment */\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                "{\"w\":{'dtype':\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"x\":NaN}}",
                "{\"w\":{\"dtype\":\"F32\",shape:[1],\"data_offsets\":[0,4]}}",
                good + " {}"}) {
            String m = failure(handmade(lenient, 4));
            assertTrue(m.contains("the header is not a JSON object: not valid JSON"), lenient + ": " + m);
        }
        String huge = failure(handmade("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e999]}}", 4));
        assertTrue(huge.contains("beyond a double's range"), huge);
    }

    /** The message of refusing a hand-written header with {@code dataBytes} bytes behind it, which must contain {@code expected}. */
    private String refusal(String header, int dataBytes, String expected) throws IOException {
        String m = failure(handmade(header, dataBytes));
        assertTrue(m.contains(expected), m);
        return m;
    }

    @Test
    void offsetsBeyond2GiBAreIntegersAndMessagesShowValuesNotObjects() throws IOException {
        String tensor = "{\"w\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":%s}}";
        List<String> messages = List.of(
                refusal(String.format(tensor, "[2]", "[2147483648,2147483656]"), 8,
                        "claims bytes [2147483648, 2147483656) but the data section holds only 8 bytes"),
                refusal(String.format(tensor, "[2]", "[0.5,8]"), 8, "invalid data_offsets [0.5,8.0]"),
                refusal(String.format(tensor, "[2]", "[0,9223372036854775808]"), 8, "invalid data_offsets"),
                refusal(String.format(tensor, "[4294967296]", "[0,8]"), 8, "no valid shape (a list of integers below 2^31): [4294967296]"));
        for (String m : messages) assertTrue(!m.matches("(?s).*\\[[IJDL][@a-zA-Z.;]*@[0-9a-f]+.*"), m);
    }

    /** A sparse file of 2 GiB and more: the second tensor starts beyond 2^31 and is read in chunks like any other. */
    @Test
    void readsFilesLargerThan2GiB() throws IOException {
        int big = (1 << 29) + 5; // 2 GiB + 20 bytes of float32
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[" + big + "],\"data_offsets\":[0," + 4L * big + "]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[" + 4L * big + "," + (4L * big + 12) + "]}}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("big.safetensors");
        long dataStart = 8 + json.length;
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, json.length), 0);
            ch.write(ByteBuffer.wrap(json), 8);
            ByteBuffer last = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, -1.5f).putFloat(4, 7f);
            ch.write(last, dataStart + 4L * (big - 1)); // a's last value and b's first
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 8f).putFloat(4, 9f), dataStart + 4L * big + 4);
        }
        Safetensors.Contents c = Safetensors.read(f);
        float[] a = c.tensors().get("a").values();
        assertEquals(big, a.length);
        assertEquals(-1.5f, a[big - 1]);
        assertEquals(0f, a[big - 2]);
        assertArrayEquals(new float[] {7, 8, 9}, c.tensors().get("b").values());
    }
}
