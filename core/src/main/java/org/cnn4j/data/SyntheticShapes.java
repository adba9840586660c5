package org.cnn4j.data;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.cnn4j.tensor.Shape;

/**
 * A generated image-classification dataset that needs no download: grey-scale images of simple
 * shapes drawn at random positions, sizes and intensities on a noisy background. A small CNN
 * learns it to well above 90%, a linear model does much worse, so it is a genuine test of training.
 *
 * <p>Classes: horizontal bar, vertical bar, diagonal ╲, diagonal ╱, square outline, filled disc,
 * plus sign, the letter X, filled triangle and ring (the first {@code classes} of them are used). Pixels lie in about
 * [−0.5, 1.5] before clipping to [0, 1], and are stored as bytes like any image file.
 */
public final class SyntheticShapes {
    public static final List<String> CLASS_NAMES = List.of(
            "horizontal", "vertical", "diagonal", "antidiagonal", "square", "disc", "plus", "cross", "triangle", "ring");

    private SyntheticShapes() {
    }

    /** n grey images of size×size pixels of the first {@code classes} shapes (2 to 10), from a seed. */
    public static Dataset generate(int n, int size, int classes, long seed) {
        return generate(n, 1, size, classes, seed);
    }

    /**
     * n images of {@code channels}×size×size: with several channels, each image's shape is drawn
     * in a random colour (its grey value times a per-image weight in [0.4, 1] per channel).
     */
    public static Dataset generate(int n, int channels, int size, int classes, long seed) {
        if (classes < 2 || classes > CLASS_NAMES.size()) {
            throw new IllegalArgumentException("classes must be between 2 and " + CLASS_NAMES.size() + ", got " + classes);
        }
        if (size < 8) throw new IllegalArgumentException("images must be at least 8x8, got " + size);
        if (channels < 1) throw new IllegalArgumentException("images need at least one channel, got " + channels);
        Random rng = new Random(seed);
        int plane = size * size;
        byte[] pixels = new byte[n * channels * plane];
        int[] labels = new int[n];
        float[] img = new float[plane];
        for (int i = 0; i < n; i++) {
            int label = rng.nextInt(classes);
            labels[i] = label;
            draw(img, size, label, rng);
            for (int c = 0; c < channels; c++) {
                float weight = channels == 1 ? 1 : 0.4f + 0.6f * rng.nextFloat();
                for (int p = 0; p < plane; p++) pixels[(i * channels + c) * plane + p] = (byte) Math.round(255 * weight * img[p]);
            }
        }
        return new Dataset("shapes", Shape.of(channels, size, size), pixels, labels, CLASS_NAMES.subList(0, classes));
    }

    private static void draw(float[] img, int size, int label, Random rng) {
        float intensity = 0.6f + 0.4f * rng.nextFloat();
        Arrays.fill(img, 0f);
        // The shape's bounding box: side between 40% and 80% of the image, anywhere inside it.
        int side = (int) (size * (0.4 + 0.4 * rng.nextDouble()));
        int top = rng.nextInt(size - side + 1), left = rng.nextInt(size - side + 1);
        int mid = side / 2;
        for (int r = 0; r < side; r++) {
            for (int c = 0; c < side; c++) {
                boolean on = switch (label) {
                    case 0 -> Math.abs(r - mid) <= 1;
                    case 1 -> Math.abs(c - mid) <= 1;
                    case 2 -> Math.abs(r - c) <= 1;
                    case 3 -> Math.abs(r + c - (side - 1)) <= 1;
                    case 4 -> r <= 1 || c <= 1 || r >= side - 2 || c >= side - 2;
                    case 5 -> (r - mid) * (r - mid) + (c - mid) * (c - mid) <= mid * mid;
                    case 6 -> Math.abs(r - mid) <= 1 || Math.abs(c - mid) <= 1;
                    case 7 -> Math.abs(r - c) <= 1 || Math.abs(r + c - (side - 1)) <= 1;
                    case 8 -> 2 * Math.abs(c - mid) <= r;
                    default -> Math.abs(Math.sqrt((r - mid) * (r - mid) + (c - mid) * (c - mid)) - 0.75 * mid) <= 1.2;
                };
                if (on) img[(top + r) * size + left + c] = intensity;
            }
        }
        for (int p = 0; p < img.length; p++) {
            float v = img[p] + (float) (0.25 * rng.nextGaussian());
            img[p] = Math.min(1f, Math.max(0f, v));
        }
    }
}
