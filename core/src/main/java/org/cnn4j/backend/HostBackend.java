package org.cnn4j.backend;

import org.cnn4j.tensor.IntTensor;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * What the backends that keep tensors in Java arrays share: INT32 tensors (labels, masks), the
 * check that a tensor belongs to this backend, and the (n, k, …) plane arithmetic of biases.
 */
public abstract class HostBackend implements Backend {

    /** The int array of an INT32 tensor of this backend. */
    protected final int[] ints(Tensor t) {
        if (t instanceof IntTensor it && it.backend() == this) return it.data();
        throw foreign(t, "an INT32 tensor");
    }

    /** The error for a tensor that is not of the expected kind, or belongs to another backend. */
    protected final IllegalArgumentException foreign(Tensor t, String expected) {
        return new IllegalArgumentException(name() + " expected " + expected + " of its own, got "
                + (t == null ? "null" : t + (t.backend() == this ? "" : " from backend " + t.backend().name())));
    }

    /** Checks that a destination tensor has room for exactly {@code length} values. */
    public static void checkLength(String op, Tensor dst, int length) {
        if (length != dst.size()) {
            throw new IllegalArgumentException(op + ": " + length + " values for a tensor of shape " + dst.shape());
        }
    }

    /** Values per (sample, channel) plane of y (n, k, …) for a bias of k values. */
    public static int biasPlane(String op, Tensor y, Tensor b) {
        int k = b.size();
        if (y.shape().rank() < 2 || y.shape().dim(1) != k) {
            throw new IllegalArgumentException(op + ": " + y.shape() + " does not have " + k + " channels for a bias of shape " + b.shape());
        }
        return y.size() / (y.shape().rows() * k);
    }

    @Override
    public IntTensor allocateInts(Shape shape) {
        return new IntTensor(this, shape, new int[shape.size()]);
    }

    @Override
    public IntTensor uploadInts(Shape shape, int[] values) {
        return new IntTensor(this, shape, values.clone());
    }

    @Override
    public void writeInts(Tensor dst, int[] values) {
        int[] out = ints(dst);
        checkLength("writeInts", dst, values.length);
        System.arraycopy(values, 0, out, 0, out.length);
    }

    @Override
    public int[] downloadInts(Tensor x) {
        return ints(x).clone();
    }
}
