package org.cnn4j.testing;

import java.util.stream.Stream;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.backend.reference.ReferenceBackend;

/**
 * The backends every numeric test runs over. The CUDA backend joins this list when it exists
 * (tests on it are skipped, with the reason, where no GPU is usable).
 */
public final class Backends {
    /** Shared across tests; never closed (daemon threads). */
    public static final CpuBackend CPU = new CpuBackend(2);
    public static final CpuBackend CPU_1_THREAD = new CpuBackend(1);
    public static final ReferenceBackend REFERENCE = new ReferenceBackend();

    private Backends() {
    }

    /** The backends under test, compared against each other and against fixtures. */
    public static Stream<Backend> all() {
        return Stream.of(CPU, CPU_1_THREAD, REFERENCE);
    }

    /** Tolerance for results of a backend against an exact value: float32 rounding, or double's. */
    public static double tolerance(Backend b) {
        return b.precision() == org.cnn4j.tensor.DType.FLOAT64 ? 1e-10 : 1e-4;
    }
}
