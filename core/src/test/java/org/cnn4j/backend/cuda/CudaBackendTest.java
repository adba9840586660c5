package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The GPU suite ({@link CudaBackendSuite}) on the first real GPU, skipped with the reason where none
 * is usable: run it on a GPU node with bin/cnn4j-selftest.
 */
@Tag("gpu")
class CudaBackendTest extends CudaBackendSuite {

    @BeforeAll
    static void open() {
        CudaBackend strictFloat32 = null;
        try {
            strictFloat32 = CudaBackend.open(CudaBackend.Options.defaults().strictFloat32());
            use(strictFloat32, CudaBackend.open(CudaBackend.Options.defaults()), null);
        } catch (LinkageError | RuntimeException e) {
            use(strictFloat32, null, org.cnn4j.backend.Devices.reason(e)); // closed after the (skipped) tests
        }
    }

    @Test
    void eventsOrderAndTimeTheStream() {
        try (CudaDriver driver = new CudaDriver(0); CudaDriver.Event start = driver.event(true); CudaDriver.Event end = driver.event(true)) {
            DevicePointer p = driver.tryAllocate(64L << 20);
            start.record();
            for (int i = 0; i < 20; i++) driver.fill32(p, i, 16L << 20);
            end.record();
            end.synchronize();
            float ms = end.millisecondsSince(start);
            assertTrue(ms > 0 && ms < 10_000, "20 fills of 64 MiB took " + ms + " ms of device time");
            int[] head = new int[4];
            driver.copyToHost(head, p);
            assertArrayEquals(new int[] {19, 19, 19, 19}, head, "the last fill, in issue order");
            driver.free(p);
        }
    }}
