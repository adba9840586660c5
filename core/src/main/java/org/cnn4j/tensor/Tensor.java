package org.cnn4j.tensor;

import org.cnn4j.backend.Backend;

/**
 * A handle to a block of numbers owned by one {@link Backend}: host arrays on the CPU backends,
 * device memory on the GPU. Layers pass tensors to their backend and never look inside, so the
 * same layer code runs everywhere without copying on every operation. Reading the values on the
 * host ({@link #toFloatArray()} and friends) copies them out.
 *
 * <p>{@link #close()} frees backend memory (a no-op on the host) and is safe to call twice.
 */
public abstract class Tensor implements AutoCloseable {
    private final Shape shape;
    private final DType dtype;

    protected Tensor(Shape shape, DType dtype) {
        this.shape = shape;
        this.dtype = dtype;
    }

    public final Shape shape() {
        return shape;
    }

    public final DType dtype() {
        return dtype;
    }

    public final int size() {
        return shape.size();
    }

    /** The backend that owns this tensor's storage. */
    public abstract Backend backend();

    /** A tensor of another shape with the same number of elements that shares this one's storage. */
    public abstract Tensor reshape(Shape newShape);

    /** The values, rounded to float if the tensor holds doubles. */
    public final float[] toFloatArray() {
        return backend().downloadFloats(this);
    }

    /** The values as doubles (exact for FLOAT32 and FLOAT64 tensors). */
    public final double[] toDoubleArray() {
        return backend().downloadDoubles(this);
    }

    /** The values of an INT32 tensor. */
    public final int[] toIntArray() {
        return backend().downloadInts(this);
    }

    protected final void checkReshape(Shape newShape) {
        if (newShape.size() != shape.size()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " (" + shape.size() + " elements) to "
                    + newShape + " (" + newShape.size() + " elements)");
        }
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return dtype + shape.toString() + "@" + backend().name();
    }
}
