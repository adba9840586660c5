package org.cnn4j.data;

import java.util.Arrays;

/**
 * Per-channel normalisation of 8-bit pixels: x = (p/255 − mean[c]) / std[c]. Computed once from
 * the training set and stored with the model, so evaluation and prediction see the same inputs.
 */
public record Normalization(double[] mean, double[] std) {
    public Normalization {
        if (mean.length != std.length || mean.length == 0) {
            throw new IllegalArgumentException("normalisation needs one mean and one std per channel, got "
                    + mean.length + " and " + std.length);
        }
        for (double s : std) {
            if (!(s > 0) || Double.isInfinite(s)) throw new IllegalArgumentException("normalisation std must be > 0, got " + s);
        }
        mean = mean.clone();
        std = std.clone();
    }

    /** p/255 unchanged, for every channel. */
    public static Normalization identity(int channels) {
        double[] zero = new double[channels], one = new double[channels];
        Arrays.fill(one, 1);
        return new Normalization(zero, one);
    }

    public int channels() {
        return mean.length;
    }

    @Override
    public double[] mean() {
        return mean.clone();
    }

    @Override
    public double[] std() {
        return std.clone();
    }

    /** The normalised value of pixel byte p in channel c. */
    public float apply(int c, byte p) {
        return (float) (((p & 0xFF) / 255.0 - mean[c]) / std[c]);
    }

    /** A 256-entry table per channel: table[c][p] = apply(c, p). */
    float[][] table() {
        float[][] t = new float[mean.length][256];
        for (int c = 0; c < mean.length; c++) for (int p = 0; p < 256; p++) t[c][p] = apply(c, (byte) p);
        return t;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Normalization n && Arrays.equals(mean, n.mean) && Arrays.equals(std, n.std);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "Normalization(mean " + Arrays.toString(mean) + ", std " + Arrays.toString(std) + ")";
    }
}
