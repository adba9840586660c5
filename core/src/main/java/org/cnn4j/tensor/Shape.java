package org.cnn4j.tensor;

import java.util.Arrays;

/**
 * The dimensions of a tensor, outermost first. Image tensors are NCHW: (n, c, h, w); filters are
 * KCRS: (k, c, r, s); dense weights are (out, in). A shape is immutable and compares by value.
 */
public final class Shape {
    private final int[] dims;

    private Shape(int[] dims) {
        this.dims = dims;
    }

    /** A shape of the given dimensions; each must be at least 1. */
    public static Shape of(int... dims) {
        if (dims.length == 0) throw new IllegalArgumentException("a shape needs at least one dimension");
        long size = 1;
        for (int d : dims) {
            if (d < 1) throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has a dimension below 1");
            size *= d;
            if (size > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " holds more than 2^31-1 elements");
            }
        }
        return new Shape(dims.clone());
    }

    public int rank() {
        return dims.length;
    }

    public int dim(int i) {
        return dims[i];
    }

    public int[] dims() {
        return dims.clone();
    }

    /** Number of elements. */
    public int size() {
        int size = 1;
        for (int d : dims) size *= d;
        return size;
    }

    /** The first dimension: the batch size of an activation tensor, the rows of a matrix. */
    public int rows() {
        return dims[0];
    }

    /** Elements per row: everything after the first dimension (1 for a vector). */
    public int columns() {
        return size() / dims[0];
    }

    /** This shape without its first dimension: one sample of a batch. */
    public Shape sample() {
        if (dims.length == 1) return Shape.of(1);
        return new Shape(Arrays.copyOfRange(dims, 1, dims.length));
    }

    /** A batch of {@code n} samples of this shape: (n, dims...). */
    public Shape batch(int n) {
        int[] out = new int[dims.length + 1];
        out[0] = n;
        System.arraycopy(dims, 0, out, 1, dims.length);
        return Shape.of(out);
    }

    /** n, c, h, w of a rank-4 shape; fails with the shape in the message otherwise. */
    public int n() { return nchw(0); }
    public int c() { return nchw(1); }
    public int h() { return nchw(2); }
    public int w() { return nchw(3); }

    private int nchw(int i) {
        if (dims.length != 4) throw new IllegalStateException("shape " + this + " is not NCHW (rank 4)");
        return dims[i];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** "(256, 1, 28, 28)". */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(dims[i]);
        }
        return sb.append(')').toString();
    }
}
