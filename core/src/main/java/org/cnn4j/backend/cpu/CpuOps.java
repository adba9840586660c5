package org.cnn4j.backend.cpu;

import org.cnn4j.tensor.Tensor;

/** What each family of the CPU backend's operations shares: the backend and its thread pool. */
abstract class CpuOps {
    final CpuBackend backend;
    final Parallel parallel;

    CpuOps(CpuBackend backend, Parallel parallel) {
        this.backend = backend;
        this.parallel = parallel;
    }

    /** The float array of a FLOAT32 tensor of the backend. */
    final float[] f(Tensor t) {
        return backend.f(t);
    }
}
