package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The caching allocator over the emulated GPU: blocks handed out again, and what they hold then. */
class DeviceMemoryTest {
    @Test
    void aReleasedBlockIsHandedOutAgainForTheSameRoundedSize() {
        EmulatedGpu gpu = new EmulatedGpu(1 << 20);
        try (DeviceMemory memory = new DeviceMemory(gpu)) {
            DevicePointer a = memory.allocate(1000, "a");
            long free = gpu.memoryInfo()[0];
            memory.release(a, 1000);
            assertEquals(free, gpu.memoryInfo()[0], "the block stays with the allocator");
            DevicePointer b = memory.allocate(1024, "b");
            assertEquals(a.address(), b.address(), "1000 and 1024 bytes both round to 1024");
            assertEquals(free, gpu.memoryInfo()[0], "no new device allocation");
            DevicePointer c = memory.allocate(1025, "c");
            assertNotEquals(a.address(), c.address(), "1025 bytes round to 1536: another pool");
            assertEquals(1024 + 1536, memory.inUse());
        }
    }

    @Test
    void aBlockHandedOutAgainReadsAsNaNNotAsItsLastOwnerLeftIt() {
        EmulatedGpu gpu = new EmulatedGpu(1 << 20);
        try (DeviceMemory memory = new DeviceMemory(gpu)) {
            DevicePointer a = memory.allocate(64, "a");
            float[] values = new float[16];
            for (int i = 0; i < values.length; i++) values[i] = 0.5f * i - 3;
            gpu.copyToDevice(a, values);
            assertEquals(values[15], gpu.floats(a.address(), 16)[15]);
            memory.release(a, 64);
            DevicePointer b = memory.allocate(64, "b");
            assertEquals(a.address(), b.address(), "the same block");
            float[] seen = gpu.floats(b.address(), 128); // the whole 512-byte block as rounded
            for (int i = 0; i < seen.length; i++) assertTrue(Float.isNaN(seen[i]), "word " + i + " reads " + seen[i]);
        }
    }
}
