package org.cnn4j.backend.cuda;

import org.cnn4j.tensor.Tensor;

/** What each family of the CUDA backend's operations shares: the backend, and its plumbing by short names. */
abstract class CudaOps {
    final CudaBackend backend;

    CudaOps(CudaBackend backend) {
        this.backend = backend;
    }

    /** Makes the device's context current on this thread (every operation's first step). */
    final void current() {
        backend.current();
    }

    /** The backend's tensor behind t, or an error naming the operation and argument. */
    final CudaTensor t(Tensor t, String op, String arg) {
        return backend.t(t, op, arg);
    }

    /** The device address of x's data. */
    final long a(Tensor x, String op, String arg) {
        return backend.a(x, op, arg);
    }

    /** Launches a grid-stride kernel over {@code work} elements (256 threads a block). */
    final void launch(String kernel, long work, Object... args) {
        backend.launch(kernel, work, args);
    }
}
