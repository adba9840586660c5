package org.cnn4j.backend.cuda;

import org.junit.jupiter.api.BeforeAll;

/**
 * The GPU suite ({@link CudaBackendSuite}) on an emulated GPU ({@link EmulatedGpu}): the CUDA
 * backend's own code and its PTX kernels, run by {@link PtxInterpreter} on the CPU, on every
 * machine. What it cannot stand in for is listed on EmulatedGpu.
 */
class EmulatedCudaBackendTest extends CudaBackendSuite {

    @BeforeAll
    static void open() {
        use(EmulatedGpu.backend(CudaBackend.Options.defaults().strictFloat32()), EmulatedGpu.backend(CudaBackend.Options.defaults()), null);
    }

    /** A quarter of the GPU's batch: an emulated fmnist-cnn step at batch 16 takes about half a second on two cores. */
    @Override
    int batch() {
        return 16;
    }

    @Override
    Collectives collectives(CudaBackend gpu) {
        return new EmulatedNccl((EmulatedGpu) gpu.driver);
    }
}
