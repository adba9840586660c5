package org.cnn4j.testing;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;

import javax.imageio.ImageIO;

/** Seeded random test data, and small files to build test inputs from. */
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

    /** An IDX file's header (magic for unsigned bytes, then each dimension, big-endian). */
    public static byte[] idxHeader(int... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length).putInt(0x0800 | dims.length);
        for (int d : dims) b.putInt(d);
        return b.array();
    }

    /** A JPEG of an orange disc on black, {@code w}×{@code h}. */
    public static byte[] jpeg(int w, int h) throws IOException {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.ORANGE);
        g.fillOval(2, 2, w - 4, h - 4);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "jpg", out);
        return out.toByteArray();
    }
}
