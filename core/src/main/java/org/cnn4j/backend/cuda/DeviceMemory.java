package org.cnn4j.backend.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import org.cnn4j.backend.Backend;

/**
 * A caching allocator, as PyTorch's: a freed block goes back to a pool by size and is handed out
 * again, so a training step, which frees and asks for the same sizes every time, stops calling
 * cuMemAlloc after its first pass. Sizes round up to 512 bytes. When the device is full the
 * pool's blocks are released to the driver and the allocation is tried once more; then it fails
 * with the bytes asked for and the bytes free. All work on tensors runs on the driver's one stream
 * (its upload stream touches only the driver's own staging buffers), so a block released while
 * kernels still read it is safe to hand out again: whatever the next owner queues runs after them.
 */
final class DeviceMemory implements AutoCloseable {
    private static final long GRANULE = 512;
    private final GpuDriver driver;
    private final Map<Long, ArrayDeque<DevicePointer>> pool = new HashMap<>();
    private long inUse, peak, generation;
    private String frozen;

    DeviceMemory(GpuDriver driver) {
        this.driver = driver;
    }

    static long rounded(long bytes) {
        return Math.max(GRANULE, (bytes + GRANULE - 1) / GRANULE * GRANULE);
    }

    /** A block of at least {@code bytes}; {@code what} names its use in an out-of-memory message. */
    DevicePointer allocate(long bytes, String what) {
        if (frozen != null) throw new Backend.MemoryChangedWhileRecording(what + " allocated " + bytes + " bytes of device memory " + frozen);
        generation++;
        long size = rounded(bytes);
        ArrayDeque<DevicePointer> free = pool.get(size);
        DevicePointer p = free == null ? null : free.poll();
        if (p != null) {
            driver.reused(p, size);
        } else {
            p = driver.tryAllocate(size);
            if (p == null) {
                emptyCache();
                p = driver.tryAllocate(size);
            }
            if (p == null) {
                long[] info = driver.memoryInfo();
                throw new CudaException("out of device memory: " + what + " asked for " + size + " bytes; " + info[0] + " of " + info[1]
                        + " bytes are free, cnn4j holds " + inUse + " in use");
            }
        }
        inUse += size;
        peak = Math.max(peak, inUse);
        return p;
    }

    void release(DevicePointer p, long bytes) {
        if (frozen != null) throw new Backend.MemoryChangedWhileRecording("a tensor of " + bytes + " bytes was freed " + frozen);
        generation++;
        long size = rounded(bytes);
        pool.computeIfAbsent(size, k -> new ArrayDeque<>()).push(p);
        inUse -= size;
    }

    /** Returns every pooled block to the driver, once the stream's work (which may still use them) is done. */
    void emptyCache() {
        if (pool.isEmpty()) return;
        driver.synchronize();
        for (ArrayDeque<DevicePointer> blocks : pool.values()) {
            for (DevicePointer p : blocks) driver.free(p);
        }
        pool.clear();
    }

    /**
     * Counts every allocation and release: equal generations mean no block changed hands in
     * between, so addresses recorded at the first are still owned by the same tensors.
     */
    long generation() {
        return generation;
    }

    /** Refuses every allocation and release until {@link #thaw}; {@code why} ends the error message. */
    void freeze(String why) {
        frozen = why;
    }

    void thaw() {
        frozen = null;
    }

    /** Bytes in tensors now. */
    long inUse() {
        return inUse;
    }

    /** The most bytes in tensors at any one time since the start or the last {@link #resetPeak}. */
    long peak() {
        return peak;
    }

    /** Starts the peak over from the bytes in use now. */
    void resetPeak() {
        peak = inUse;
    }

    @Override
    public void close() {
        emptyCache();
    }
}
