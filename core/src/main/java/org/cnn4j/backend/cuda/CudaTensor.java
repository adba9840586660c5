package org.cnn4j.backend.cuda;

import org.cnn4j.backend.Backend;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * A tensor in device memory (FLOAT32 or INT32, 4 bytes an element). Reshaped views share the
 * storage; closing any of them returns the block to the backend's pool once.
 */
final class CudaTensor extends Tensor {
    /** The device block, shared by reshaped views. */
    static final class Storage {
        final DevicePointer pointer;
        final long bytes;
        boolean released;

        Storage(DevicePointer pointer, long bytes) {
            this.pointer = pointer;
            this.bytes = bytes;
        }
    }

    private final CudaBackend backend;
    private final Storage storage;

    CudaTensor(CudaBackend backend, Shape shape, DType dtype, Storage storage) {
        super(shape, dtype);
        this.backend = backend;
        this.storage = storage;
    }

    DevicePointer pointer() {
        if (storage.released) throw new IllegalStateException("tensor " + shape() + " was closed; its device memory is gone");
        return storage.pointer;
    }

    long address() {
        return pointer().address();
    }

    Storage storage() {
        return storage;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public CudaTensor reshape(Shape newShape) {
        checkReshape(newShape);
        return new CudaTensor(backend, newShape, dtype(), storage);
    }

    @Override
    public void close() {
        backend.release(this);
    }
}
