package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * Downloads through page-locked staging, against a host whose copies land only when the stream is
 * synchronised (as an asynchronous DMA does) and whose fresh pinned memory reads as NaN: values
 * read before the wait, a chunk past the cap, or a buffer left allocated after a failure all show.
 */
class PinnedStagingTest {
    /** A device of one allocation, {@code device}, with pinned memory and copies as the driver's. */
    private static final class FakeHost implements PinnedStaging.Host {
        final MemorySegment device;
        final Map<Long, Arena> live = new HashMap<>();
        final List<Runnable> landing = new ArrayList<>();
        final List<Long> chunks = new ArrayList<>();
        long largestAllocation;
        int allocations, failNextAllocations;

        FakeHost(int[] values) {
            device = MemorySegment.ofArray(values.clone());
        }

        @Override
        public MemorySegment allocatePinned(long bytes) {
            if (failNextAllocations > 0) {
                failNextAllocations--;
                throw new CudaException("cuMemAllocHost(" + bytes + " bytes) failed: CUDA_ERROR_OUT_OF_MEMORY");
            }
            Arena arena = Arena.ofConfined();
            MemorySegment m = arena.allocate(bytes, 64);
            m.fill((byte) 0xFF);
            live.put(m.address(), arena);
            allocations++;
            largestAllocation = Math.max(largestAllocation, bytes);
            return m;
        }

        @Override
        public void freePinned(MemorySegment pinned) {
            Arena arena = live.remove(pinned.address());
            assertTrue(arena != null, "freed memory that is not a live pinned allocation");
            arena.close();
        }

        @Override
        public void copyToPinnedAsync(MemorySegment pinned, DevicePointer src, long offset, long bytes) {
            assertTrue(live.containsKey(pinned.address()), "a copy into memory that is not page-locked");
            assertTrue(bytes <= pinned.byteSize(), bytes + " bytes copied into a " + pinned.byteSize() + "-byte buffer");
            chunks.add(bytes);
            MemorySegment from = device.asSlice(offset, bytes);
            byte[] snapshot = from.toArray(ValueLayout.JAVA_BYTE); // the device's values in stream order
            landing.add(() -> MemorySegment.copy(snapshot, 0, pinned, ValueLayout.JAVA_BYTE, 0, snapshot.length));
        }

        @Override
        public void synchronize() {
            landing.forEach(Runnable::run);
            landing.clear();
        }
    }

    private static int[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = r.nextInt();
        return v;
    }

    @Test
    void downloadsHoldTheDeviceValuesInChunksNoLargerThanTheCap() {
        long cap = 4096;
        for (int n : new int[] {1, 7, 1023, 1024, 1025, 2560, 5000}) {
            int[] values = random(n, n);
            FakeHost host = new FakeHost(values);
            try (PinnedStaging staging = new PinnedStaging(host, cap)) {
                int[] ints = new int[n];
                Arrays.fill(ints, 0x7FC00001);
                staging.download(ints, new DevicePointer(0));
                assertArrayEquals(values, ints, n + " ints");

                float[] floats = new float[n];
                Arrays.fill(floats, Float.NaN);
                staging.download(floats, new DevicePointer(0));
                for (int i = 0; i < n; i++) assertEquals(values[i], Float.floatToRawIntBits(floats[i]), n + " floats [" + i + "]");

                assertEquals((4L * n + cap - 1) / cap * 2, host.chunks.size(), n + " values: chunks of " + cap + " bytes, twice");
                assertTrue(host.largestAllocation <= cap, "a staging buffer of " + host.largestAllocation + " bytes, over the cap " + cap);
                assertTrue(staging.heldBytes() <= cap);
            }
            assertEquals(0, host.live.size(), "pinned memory left after close");
        }
    }

    @Test
    void theBufferGrowsByDoublingFromAMebibyteUpToTheCapAndIsReused() {
        long mib = PinnedStaging.MIN_BYTES, max = PinnedStaging.MAX_BYTES;
        assertEquals(mib, PinnedStaging.bufferBytes(4, 0, max));
        assertEquals(mib, PinnedStaging.bufferBytes(4, mib, max), "big enough: kept");
        assertEquals(2 * mib, PinnedStaging.bufferBytes(mib + 4, mib, max));
        assertEquals(10 * mib, PinnedStaging.bufferBytes(10 * mib, 2 * mib, max), "at least the transfer");
        assertEquals(max, PinnedStaging.bufferBytes(5L << 30, 2 * mib, max), "a 5 GiB download stages through the cap");
        assertEquals(max, PinnedStaging.bufferBytes(5L << 30, max, max), "at the cap: kept, the transfer goes in chunks");

        int[] values = random(1 << 18, 3); // 1 MiB
        FakeHost host = new FakeHost(values);
        try (PinnedStaging staging = new PinnedStaging(host)) {
            for (int round = 0; round < 3; round++) staging.download(new int[values.length], new DevicePointer(0));
            assertEquals(1, host.allocations, "one buffer for repeated downloads of one size");
        }
    }

    @Test
    void aFailedAllocationLeavesNothingHeldAndTheNextDownloadWorks() {
        int[] values = random(1 << 19, 5); // 2 MiB
        FakeHost host = new FakeHost(values);
        try (PinnedStaging staging = new PinnedStaging(host, 4 << 20)) {
            staging.download(new int[10], new DevicePointer(0));
            assertEquals(PinnedStaging.MIN_BYTES, staging.heldBytes());
            host.failNextAllocations = 1;
            CudaException e = assertThrows(CudaException.class, () -> staging.download(new int[values.length], new DevicePointer(0)));
            assertTrue(e.getMessage().contains("cuMemAllocHost(2097152 bytes)"), e.getMessage());
            assertEquals(0, staging.heldBytes(), "the old buffer is freed before the bigger one is asked for");
            assertEquals(0, host.live.size(), "no pinned memory left behind by the failure");

            int[] got = new int[values.length];
            staging.download(got, new DevicePointer(0));
            assertArrayEquals(values, got);
        }
        assertEquals(0, host.live.size());
    }
}
