package org.cnn4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

import org.cnn4j.io.FileFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The IDX and CIFAR-10 loaders on small files the test writes, good and bad. */
class DatasetFilesTest {
    @TempDir
    Path dir;

    private static final Random RNG = new Random(3);

    /** An IDX file of unsigned bytes: magic 0x0000080R, the dimensions, the data. */
    static byte[] idx(int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.putInt(0x0800 | dims.length);
        for (int d : dims) b.putInt(d);
        return b.put(data).array();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        }
        return out.toByteArray();
    }

    static byte[] randomBytes(int n, int bound) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) RNG.nextInt(bound);
        return b;
    }

    /** Writes the four IDX files of an MNIST-style directory (n train and m test images of 5×4). */
    private byte[][] writeMnist(Path d, int n, int m, boolean gz) throws IOException {
        Files.createDirectories(d);
        byte[] trainImages = randomBytes(n * 20, 256), trainLabels = randomBytes(n, 10);
        byte[] testImages = randomBytes(m * 20, 256), testLabels = randomBytes(m, 10);
        String ext = gz ? ".gz" : "";
        write(d.resolve("train-images-idx3-ubyte" + ext), idx(new int[] {n, 5, 4}, trainImages), gz);
        write(d.resolve("train-labels-idx1-ubyte" + ext), idx(new int[] {n}, trainLabels), gz);
        write(d.resolve("t10k-images-idx3-ubyte" + ext), idx(new int[] {m, 5, 4}, testImages), gz);
        write(d.resolve("t10k-labels-idx1-ubyte" + ext), idx(new int[] {m}, testLabels), gz);
        return new byte[][] {trainImages, trainLabels, testImages, testLabels};
    }

    private static void write(Path file, byte[] raw, boolean gz) throws IOException {
        Files.write(file, gz ? gzip(raw) : raw);
    }

    private static void assertImages(byte[] expected, Dataset d) {
        float[] x = d.images(Normalization.identity(1));
        assertEquals(expected.length, x.length);
        for (int i = 0; i < x.length; i++) assertEquals((expected[i] & 0xFF) / 255f, x[i], 1e-7f);
    }

    @Test
    void readsRawAndGzippedIdxDirectories() throws IOException {
        for (boolean gz : new boolean[] {false, true}) {
            Path d = dir.resolve(gz ? "gz" : "raw");
            byte[][] files = writeMnist(d, 7, 3, gz);
            Datasets.Split split = Datasets.idx(d);
            assertEquals(7, split.train().size());
            assertEquals(3, split.test().size());
            assertEquals(org.cnn4j.tensor.Shape.of(1, 5, 4), split.train().sampleShape());
            assertImages(files[0], split.train());
            assertImages(files[2], split.test());
            for (int i = 0; i < 7; i++) assertEquals(files[1][i], split.train().label(i));
            assertEquals(Datasets.DIGIT_CLASSES, split.train().classNames());
        }
    }

    @Test
    void fashionDirectoriesGetFashionClassNames() throws IOException {
        writeMnist(dir.resolve("my-fashion-mnist"), 2, 2, false);
        assertEquals(Datasets.FASHION_CLASSES, Datasets.idx(dir.resolve("my-fashion-mnist")).train().classNames());
    }

    private String failure(Path file, int rank) {
        return assertThrows(FileFormatException.class, () -> IdxFiles.read(file, rank)).getMessage();
    }

    @Test
    void truncatedIdxFilesAreRejected() throws IOException {
        byte[] full = idx(new int[] {10, 5, 4}, randomBytes(200, 256));
        Path raw = dir.resolve("raw"), gz = dir.resolve("gz"), header = dir.resolve("header");
        Files.write(raw, Arrays.copyOf(full, full.length - 7));
        Files.write(gz, gzip(Arrays.copyOf(full, full.length - 7)));
        Files.write(header, Arrays.copyOf(full, 6));
        assertTrue(failure(raw, 3).contains("need 200 bytes of data but the file holds 193"), failure(raw, 3));
        assertTrue(failure(gz, 3).contains("data end after 193 bytes"), failure(gz, 3));
        assertTrue(failure(header, 3).contains("file ends before dimension 0"), failure(header, 3));
        byte[] cut = gzip(full);
        Files.write(gz, Arrays.copyOf(cut, cut.length / 2));
        assertTrue(failure(gz, 3).contains("truncated"), failure(gz, 3));
    }

    @Test
    void wrongMagicNumbersAreRejected() throws IOException {
        Path labelsAsImages = dir.resolve("labels"), floats = dir.resolve("floats"), text = dir.resolve("text");
        Files.write(labelsAsImages, idx(new int[] {4}, randomBytes(4, 10)));
        byte[] f = idx(new int[] {1, 1, 1}, new byte[4]);
        f[2] = 0x0D; // float data
        Files.write(floats, f);
        Files.writeString(text, "this is not an IDX file at all");
        assertTrue(failure(labelsAsImages, 3).contains("magic number 0x00000801"), failure(labelsAsImages, 3));
        assertTrue(failure(labelsAsImages, 3).contains("expected 0x00000803"));
        assertTrue(failure(floats, 3).contains("0x00000D03"), failure(floats, 3));
        assertTrue(failure(text, 1).contains("at byte 0"), failure(text, 1));
    }

    @Test
    void sizesThatDisagreeWithTheHeaderAreRejected() throws IOException {
        Path longer = dir.resolve("longer"), gzLonger = dir.resolve("gzLonger"), huge = dir.resolve("huge"), negative = dir.resolve("negative");
        byte[] extra = idx(new int[] {2, 2, 2}, randomBytes(9, 256));
        Files.write(longer, extra);
        Files.write(gzLonger, gzip(extra));
        // A header that claims 60000 images of 28×28 (47 MB) with 10 bytes behind it: an error, not a 47 MB buffer.
        Files.write(huge, gzip(idx(new int[] {60_000, 28, 28}, new byte[10])));
        Files.write(negative, idx(new int[] {-1, 28, 28}, new byte[0]));
        assertTrue(failure(longer, 3).contains("need 8 bytes of data but the file holds 9"), failure(longer, 3));
        assertTrue(failure(gzLonger, 3).contains("more data than the header's dimensions 2×2×2"), failure(gzLonger, 3));
        assertTrue(failure(huge, 3).contains("60000×28×28 claim 47040000 bytes of data, more than a gzip file of"), failure(huge, 3));
        Path short_ = dir.resolve("short");
        Files.write(short_, gzip(idx(new int[] {10, 10, 10}, new byte[10])));
        assertTrue(failure(short_, 3).contains("data end after 10 bytes but the header's dimensions 10×10×10 need 1000"), failure(short_, 3));
        Path plenty = dir.resolve("plenty");
        Files.write(plenty, idx(new int[] {4, 5, 5}, randomBytes(100, 256)));
        assertEquals(100, IdxFiles.read(plenty, 3, 100).data().length);
        String m = assertThrows(FileFormatException.class, () -> IdxFiles.read(plenty, 3, 99)).getMessage();
        assertTrue(m.contains("4×5×5 claim 100 bytes of data, more than the limit of 99 bytes for a data file"), m);
        assertTrue(failure(negative, 3).contains("dimension 0 is negative"), failure(negative, 3));
        Path overflow = dir.resolve("overflow");
        Files.write(overflow, idx(new int[] {1 << 20, 1 << 10, 1 << 10}, new byte[0]));
        assertTrue(failure(overflow, 3).contains("more than 2 GiB"), failure(overflow, 3));
    }

    @Test
    void labelsOutOfRangeOrMiscountedAreRejected() throws IOException {
        Path d = dir.resolve("bad-labels");
        writeMnist(d, 5, 2, false);
        byte[] labels = idx(new int[] {5}, new byte[] {1, 2, 3, 12, 4});
        Files.write(d.resolve("train-labels-idx1-ubyte"), labels);
        String m = assertThrows(FileFormatException.class, () -> Datasets.idx(d)).getMessage();
        assertTrue(m.contains("train-labels-idx1-ubyte (at byte 11): label 12 of sample 3 is out of range"), m);
        Files.write(d.resolve("train-labels-idx1-ubyte"), idx(new int[] {4}, new byte[] {1, 2, 3, 4}));
        m = assertThrows(FileFormatException.class, () -> Datasets.idx(d)).getMessage();
        assertTrue(m.contains("holds 4 labels but train-images-idx3-ubyte holds 5 images"), m);
    }

    @Test
    void emptyOrMissingDirectoriesSayWhatIsThere() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        String m = assertThrows(FileFormatException.class, () -> Datasets.idx(empty)).getMessage();
        assertTrue(m.contains("no train-images-idx3-ubyte or train-images-idx3-ubyte.gz here") && m.contains("it is empty"), m);
        m = assertThrows(FileFormatException.class, () -> Datasets.open(dir.resolve("nowhere").toString(), 0)).getMessage();
        assertTrue(m.contains("nowhere: no such file or directory, nor a dataset name (fashion-mnist, synthetic)"), m);
        Path text = Files.writeString(dir.resolve("notes.txt"), "not a dataset");
        m = assertThrows(FileFormatException.class, () -> Datasets.open(text.toString(), 0)).getMessage();
        assertTrue(m.contains("notes.txt: not a dataset name (fashion-mnist, synthetic), a directory nor a CSV manifest"), m);
        m = assertThrows(FileFormatException.class, () -> Datasets.cifar10(empty)).getMessage();
        assertTrue(m.contains("expected data_batch_1.bin"), m);
    }

    // ---------------------------------------------------------------- CIFAR-10

    private static byte[] cifarRecords(int n, byte[] labels) {
        byte[] out = new byte[n * 3073];
        for (int i = 0; i < n; i++) {
            out[i * 3073] = labels[i];
            System.arraycopy(randomBytes(3072, 256), 0, out, i * 3073 + 1, 3072);
        }
        return out;
    }

    @Test
    void readsCifar10Batches() throws IOException {
        Path d = Files.createDirectories(dir.resolve("cifar/cifar-10-batches-bin"));
        byte[] b1 = cifarRecords(3, new byte[] {0, 9, 4}), b2 = cifarRecords(2, new byte[] {7, 1}), test = cifarRecords(2, new byte[] {3, 5});
        Files.write(d.resolve("data_batch_1.bin"), b1);
        Files.write(d.resolve("data_batch_2.bin"), b2);
        Files.write(d.resolve("test_batch.bin"), test);
        Datasets.Split split = Datasets.open(dir.resolve("cifar").toString(), 0);
        assertEquals(5, split.train().size());
        assertArrayEquals(new int[] {0, 9, 4, 7, 1}, split.train().labels());
        assertEquals(org.cnn4j.tensor.Shape.of(3, 32, 32), split.train().sampleShape());
        float[] x = split.train().images(Normalization.identity(3));
        // Sample 3 is the first record of the second file: its pixel bytes, planes R, G, B.
        for (int p = 0; p < 3072; p++) assertEquals((b2[1 + p] & 0xFF) / 255f, x[3 * 3072 + p], 1e-7f);
        assertEquals(Datasets.CIFAR10_CLASSES, split.test().classNames());
    }

    @Test
    void badCifar10FilesAreRejected() throws IOException {
        Path d = Files.createDirectories(dir.resolve("badcifar"));
        Files.write(d.resolve("data_batch_1.bin"), Arrays.copyOf(cifarRecords(2, new byte[] {1, 2}), 3073 + 100));
        Files.write(d.resolve("test_batch.bin"), cifarRecords(1, new byte[] {10}));
        String m = assertThrows(FileFormatException.class, () -> Datasets.cifar10(d)).getMessage();
        assertTrue(m.contains("size 3173 is not a whole number of 3073-byte CIFAR-10 records"), m);
        Files.write(d.resolve("data_batch_1.bin"), cifarRecords(1, new byte[] {1}));
        m = assertThrows(FileFormatException.class, () -> Datasets.cifar10(d)).getMessage();
        assertTrue(m.contains("test_batch.bin (at byte 0): label 10 of sample 0 is out of range"), m);
    }
}
