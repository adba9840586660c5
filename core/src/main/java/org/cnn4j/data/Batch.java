package org.cnn4j.data;

import org.cnn4j.tensor.Shape;

/**
 * One batch on the host: normalised images x (n, c, h, w) and labels y (n), with its position in
 * the epoch. The last batch of an epoch may be smaller than the others.
 */
public record Batch(int index, float[] x, int[] y, Shape shape) {
    /** Number of samples. */
    public int size() {
        return y.length;
    }
}
