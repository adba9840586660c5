package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/** Host waits for the device under a deadline, with a pretend query in place of cuStreamQuery. */
class DeviceWaitTest {
    @Test
    void aWaitEndsWhenTheWorkIsDone() {
        AtomicInteger polls = new AtomicInteger();
        List<String> expired = new ArrayList<>();
        DeviceWait.until(() -> polls.incrementAndGet() == 5000, "the stream's work", 60_000_000_000L, (what, ns) -> expired.add(what));
        assertEquals(5000, polls.get(), "polled until done, past the spinning");
        assertTrue(expired.isEmpty());
    }

    @Test
    void aWaitPastItsDeadlineCallsTheExpiryWithWhatAndHowLong() {
        List<String> expired = new ArrayList<>();
        long start = System.nanoTime();
        CudaException e = assertThrows(CudaException.class,
                () -> DeviceWait.until(() -> false, "the stream's work", 200_000_000L, (what, ns) -> expired.add(what + " " + (ns >= 200_000_000L))));
        long took = System.nanoTime() - start;
        assertEquals(List.of("the stream's work true"), expired);
        assertTrue(took >= 200_000_000L && took < 5_000_000_000L, "gave up after " + took / 1e6 + " ms");
        assertTrue(e.getMessage().contains("past the deadline of 200 ms"), e.getMessage());
    }

    @Test
    void aFailingQueryIsThrownAtOnce() {
        CudaException e = assertThrows(CudaException.class, () -> DeviceWait.until(() -> {
            throw new CudaException("cuStreamQuery failed: CUDA_ERROR_LAUNCH_FAILED");
        }, "the stream's work", 1_000_000_000L, (what, ns) -> { }));
        assertTrue(e.getMessage().contains("CUDA_ERROR_LAUNCH_FAILED"), e.getMessage());
    }
}
