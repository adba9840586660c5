package org.cnn4j.tensor;

import org.cnn4j.backend.Backend;

/** An INT32 tensor in a Java array: class labels and max-pooling masks on the host backends. */
public final class IntTensor extends Tensor {
    private final Backend backend;
    private final int[] data;

    public IntTensor(Backend backend, Shape shape, int[] data) {
        super(shape, DType.INT32);
        if (data.length != shape.size()) {
            throw new IllegalArgumentException("shape " + shape + " needs " + shape.size() + " ints, got " + data.length);
        }
        this.backend = backend;
        this.data = data;
    }

    public int[] data() {
        return data;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public IntTensor reshape(Shape newShape) {
        checkReshape(newShape);
        return new IntTensor(backend, newShape, data);
    }
}
