package org.cnn4j.tensor;

import org.cnn4j.backend.Backend;

/** A FLOAT64 tensor in a Java array (reference backend). {@link #data()} is the live storage, row-major. */
public final class DoubleTensor extends Tensor {
    private final Backend backend;
    private final double[] data;

    public DoubleTensor(Backend backend, Shape shape, double[] data) {
        super(shape, DType.FLOAT64);
        if (data.length != shape.size()) {
            throw new IllegalArgumentException("shape " + shape + " needs " + shape.size() + " doubles, got " + data.length);
        }
        this.backend = backend;
        this.data = data;
    }

    public double[] data() {
        return data;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public DoubleTensor reshape(Shape newShape) {
        checkReshape(newShape);
        return new DoubleTensor(backend, newShape, data);
    }
}
