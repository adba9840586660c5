package org.cnn4j.backend.cuda;

import jcuda.driver.CUdeviceptr;

/** A JCuda device pointer whose raw address can be handed to cuDNN, cuBLAS and kernel arguments. */
final class DevicePointer extends CUdeviceptr {
    /** A pointer for cuMemAlloc to set. */
    DevicePointer() {
    }

    /** A pointer to a known address (an emulated device's: JCuda never sees it). */
    DevicePointer(long address) {
        super(new CUdeviceptr(), address);
    }

    /** The device address (0 before allocation). */
    long address() {
        return getNativePointer() + getByteOffset();
    }
}
