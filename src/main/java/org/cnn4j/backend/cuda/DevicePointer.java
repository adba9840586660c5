package org.cnn4j.backend.cuda;

import jcuda.driver.CUdeviceptr;

/** A JCuda device pointer whose raw address can be handed to cuDNN, cuBLAS and kernel arguments. */
final class DevicePointer extends CUdeviceptr {
    /** The device address (0 before allocation). */
    long address() {
        return getNativePointer();
    }
}
