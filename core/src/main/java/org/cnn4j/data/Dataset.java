package org.cnn4j.data;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

import org.cnn4j.tensor.Shape;

/**
 * Labelled images held as 8-bit pixels (n, c, h, w), the form every supported file format stores:
 * a quarter of the memory of float32, normalised batch by batch by the {@link DataLoader}. The
 * pixels are in memory, or in a memory-mapped file (an image folder's cache, see
 * {@link ImageFolder}) that the operating system pages in as batches read it. Immutable.
 */
public final class Dataset {
    private final String name;
    private final Shape sampleShape;
    private final MemorySegment pixels;
    private final int[] labels;
    private final List<String> classNames;

    /**
     * @param sampleShape (c, h, w) of one image
     * @param pixels      n·c·h·w bytes, image after image
     * @param labels      n class indices, each in [0, classNames.size())
     */
    public Dataset(String name, Shape sampleShape, byte[] pixels, int[] labels, List<String> classNames) {
        this(name, sampleShape, MemorySegment.ofArray(pixels), labels, classNames);
    }

    /**
     * The same, with the pixels in a memory segment (e.g. a mapped file), which must stay readable
     * as long as the dataset is used.
     */
    public Dataset(String name, Shape sampleShape, MemorySegment pixels, int[] labels, List<String> classNames) {
        if (sampleShape.rank() != 3) throw new IllegalArgumentException("images must have shape (c, h, w), got " + sampleShape);
        if ((long) labels.length * sampleShape.size() != pixels.byteSize()) {
            throw new IllegalArgumentException(name + ": " + labels.length + " labels of " + sampleShape + " images need "
                    + (long) labels.length * sampleShape.size() + " pixels, got " + pixels.byteSize());
        }
        if (classNames.size() < 2) throw new IllegalArgumentException(name + ": a classifier needs at least 2 classes, got " + classNames);
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classNames.size()) {
                throw new IllegalArgumentException(name + ": label " + labels[i] + " of sample " + i + " is outside [0, "
                        + classNames.size() + ")");
            }
        }
        this.name = name;
        this.sampleShape = sampleShape;
        this.pixels = pixels;
        this.labels = labels;
        this.classNames = List.copyOf(classNames);
    }

    public String name() {
        return name;
    }

    /** Number of samples. */
    public int size() {
        return labels.length;
    }

    /** (c, h, w) of one image. */
    public Shape sampleShape() {
        return sampleShape;
    }

    public int classes() {
        return classNames.size();
    }

    public List<String> classNames() {
        return classNames;
    }

    public int label(int i) {
        return labels[i];
    }

    /** A copy of all labels. */
    public int[] labels() {
        return labels.clone();
    }

    /** A copy of all pixel bytes (for tests of small datasets). */
    byte[] pixels() {
        return pixels.toArray(ValueLayout.JAVA_BYTE);
    }

    /** A copy of sample i's pixels, c·h·w bytes (unsigned 0..255). */
    public byte[] pixels(int i) {
        long size = sampleShape.size();
        return pixels.asSlice(i * size, size).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Samples [from, to) as a dataset of their own (sharing these pixels, which are never changed). */
    public Dataset slice(int from, int to) {
        if (from < 0 || to > size() || from > to) {
            throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + size() + " samples");
        }
        long sample = sampleShape.size();
        return new Dataset(name, sampleShape, pixels.asSlice(from * sample, (to - from) * sample),
                Arrays.copyOfRange(labels, from, to), classNames);
    }

    /** Per-channel mean and standard deviation of the pixels (in [0, 1] units), for {@link Normalization}. */
    public Normalization statistics() {
        int c = sampleShape.dim(0), plane = sampleShape.dim(1) * sampleShape.dim(2);
        long[][] histogram = new long[c][256];
        byte[] chunk = new byte[plane];
        for (long p = 0; p < (long) size() * c; p++) { // plane by plane
            MemorySegment.copy(pixels, ValueLayout.JAVA_BYTE, p * plane, chunk, 0, plane);
            long[] h = histogram[(int) (p % c)];
            for (byte b : chunk) h[b & 0xFF]++;
        }
        double[] mean = new double[c], std = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double count = 0, sum = 0, squares = 0;
            for (int p = 0; p < 256; p++) {
                double v = p / 255.0;
                count += histogram[ch][p];
                sum += histogram[ch][p] * v;
                squares += histogram[ch][p] * v * v;
            }
            mean[ch] = sum / count;
            std[ch] = Math.max(1e-3, Math.sqrt(Math.max(0, squares / count - mean[ch] * mean[ch])));
        }
        return new Normalization(mean, std);
    }

    /** All images, normalised, as one float array (n, c, h, w). */
    public float[] images(Normalization normalization) {
        checkChannels(normalization);
        float[] out = new float[Math.toIntExact(pixels.byteSize())];
        copyImages(out, 0, 0, size(), normalization.table());
        return out;
    }

    /** Writes images [from, to) into out starting at offset, each pixel byte p of channel c as table[c][p]. */
    void copyImages(float[] out, int offset, int from, int to, float[][] table) {
        int plane = sampleShape.dim(1) * sampleShape.dim(2), c = sampleShape.dim(0);
        byte[] chunk = new byte[plane];
        for (long i = (long) from * c; i < (long) to * c; i++) {
            float[] t = table[(int) (i % c)];
            MemorySegment.copy(pixels, ValueLayout.JAVA_BYTE, i * plane, chunk, 0, plane);
            int dst = offset + (int) (i - (long) from * c) * plane;
            for (int p = 0; p < plane; p++) out[dst + p] = t[chunk[p] & 0xFF];
        }
    }

    /**
     * Writes the window (top, left, height × width) of sample i's channels into {@code out}, channel
     * after channel, each pixel byte p of channel c as table[c][p].
     */
    void copyWindow(int i, int top, int left, int height, int width, float[][] table, float[] out) {
        int c = sampleShape.dim(0), h = sampleShape.dim(1), w = sampleShape.dim(2);
        byte[] row = new byte[width];
        for (int ch = 0; ch < c; ch++) {
            float[] t = table[ch];
            long base = ((long) i * c + ch) * h * w;
            for (int y = 0; y < height; y++) {
                MemorySegment.copy(pixels, ValueLayout.JAVA_BYTE, base + (long) (top + y) * w + left, row, 0, width);
                for (int x = 0, to = (ch * height + y) * width; x < width; x++) out[to + x] = t[row[x] & 0xFF];
            }
        }
    }

    void checkChannels(Normalization normalization) {
        if (normalization.channels() != sampleShape.dim(0)) {
            throw new IllegalArgumentException(name + " has " + sampleShape.dim(0) + "-channel images but the normalisation has "
                    + normalization.channels() + " channels");
        }
    }

    @Override
    public String toString() {
        return name + ": " + size() + " images " + sampleShape + ", " + classes() + " classes";
    }
}
