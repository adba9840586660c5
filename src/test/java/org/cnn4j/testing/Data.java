package org.cnn4j.testing;

import java.util.Random;

/** Seeded random test data. */
public final class Data {
    private Data() {
    }

    /** Uniform in [−1, 1), rounded to float so float and double backends start from identical values. */
    public static double[] uniform(Random rng, int size) {
        double[] v = new double[size];
        for (int i = 0; i < size; i++) v[i] = (float) (2 * rng.nextDouble() - 1);
        return v;
    }

    public static double[] gaussian(Random rng, int size, double std) {
        double[] v = new double[size];
        for (int i = 0; i < size; i++) v[i] = (float) (rng.nextGaussian() * std);
        return v;
    }

    public static int[] labels(Random rng, int n, int classes) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = rng.nextInt(classes);
        return v;
    }

    public static double[] range(double start, int size) {
        double[] v = new double[size];
        for (int i = 0; i < size; i++) v[i] = start + i;
        return v;
    }
}
