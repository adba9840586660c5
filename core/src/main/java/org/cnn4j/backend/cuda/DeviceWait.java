package org.cnn4j.backend.cuda;

import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Waiting on the host for the device with a deadline: where a blocking wait (cuStreamSynchronize,
 * cuEventSynchronize) could last forever, because the device's work waits for another process
 * (an NCCL reduction whose peer died or hung), the wait polls instead (cuStreamQuery,
 * cuEventQuery) and gives up past the deadline. Polls spin briefly, then sleep 50 µs at a time.
 */
final class DeviceWait {
    private static final int SPINS = 2000;
    private static final long NAP_NANOS = 50_000;

    /** What to do when a wait passes its deadline: told what was waited for and for how long (ns). */
    interface Expiry {
        void expired(String what, long waitedNanos);
    }

    private DeviceWait() {
    }

    /**
     * Polls {@code done} until it says the work has finished; past {@code limitNanos}, calls
     * {@code expiry} (which normally ends the process) and, should it return, throws.
     */
    static void until(BooleanSupplier done, String what, long limitNanos, Expiry expiry) {
        long start = System.nanoTime();
        for (int polls = 0; !done.getAsBoolean(); polls++) {
            long waited = System.nanoTime() - start;
            if (waited > limitNanos) {
                expiry.expired(what, waited);
                throw new CudaException("waited " + waited / 1_000_000 + " ms for " + what + ", past the deadline of " + limitNanos / 1_000_000 + " ms");
            }
            if (polls < SPINS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(NAP_NANOS);
            }
        }
    }
}
