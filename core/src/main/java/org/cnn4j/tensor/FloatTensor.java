package org.cnn4j.tensor;

import org.cnn4j.backend.Backend;

/** A FLOAT32 tensor in a Java array (CPU backend). {@link #data()} is the live storage, row-major. */
public final class FloatTensor extends Tensor {
    private final Backend backend;
    private final float[] data;

    public FloatTensor(Backend backend, Shape shape, float[] data) {
        super(shape, DType.FLOAT32);
        if (data.length != shape.size()) {
            throw new IllegalArgumentException("shape " + shape + " needs " + shape.size() + " floats, got " + data.length);
        }
        this.backend = backend;
        this.data = data;
    }

    public float[] data() {
        return data;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public FloatTensor reshape(Shape newShape) {
        checkReshape(newShape);
        return new FloatTensor(backend, newShape, data);
    }
}
