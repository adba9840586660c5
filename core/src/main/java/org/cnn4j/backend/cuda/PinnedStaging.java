package org.cnn4j.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * Downloads through one page-locked staging buffer: the device copies into it asynchronously on the
 * stream, the stream is synchronised, and only then are the values copied into the Java array. (A
 * copy straight into an array would be into memory that JCuda pins only for the length of the call,
 * which may end before the asynchronous copy does.)
 *
 * <p>The buffer grows on demand, from {@value #MIN_BYTES} bytes up to {@value #MAX_BYTES}; a larger
 * transfer goes in chunks of at most that much, so pinned memory stays bounded whatever the tensor.
 * A failed allocation leaves nothing held: the old buffer is freed before the new one is asked for.
 */
final class PinnedStaging implements AutoCloseable {
    /** The most page-locked host memory one staging buffer takes (and so one chunk's size). */
    static final long MAX_BYTES = 256L << 20;
    /** The smallest staging buffer. */
    static final long MIN_BYTES = 1L << 20;

    /** The driver calls staging needs: page-locked memory, a stream-ordered copy to it, and a wait. */
    interface Host {
        /** Page-locked host memory of {@code bytes}, or a CudaException naming the call that failed. */
        MemorySegment allocatePinned(long bytes);

        void freePinned(MemorySegment pinned);

        /** Queues on the stream the copy of {@code bytes} at {@code src + offset} into {@code pinned}. */
        void copyToPinnedAsync(MemorySegment pinned, DevicePointer src, long offset, long bytes);

        /** Waits until the stream's work, the copies included, has run. */
        void synchronize();
    }

    /** Copies {@code bytes} from the staging buffer's start into the destination at byte {@code at}. */
    private interface Unstage {
        void from(MemorySegment staging, long at, long bytes);
    }

    private final Host host;
    private final long maxBytes;
    private MemorySegment buffer;

    PinnedStaging(Host host) {
        this(host, MAX_BYTES);
    }

    /** Staging capped at {@code maxBytes} (a multiple of 4). */
    PinnedStaging(Host host, long maxBytes) {
        if (maxBytes <= 0 || maxBytes % 4 != 0) throw new IllegalArgumentException("staging cap of " + maxBytes + " bytes: not a positive multiple of 4");
        this.host = host;
        this.maxBytes = maxBytes;
    }

    /**
     * The size of the staging buffer that a transfer of {@code bytes} needs, given the current one:
     * the current one if it is big enough, or else double it (and at least the transfer and
     * {@value #MIN_BYTES}), never more than {@code maxBytes}.
     */
    static long bufferBytes(long bytes, long current, long maxBytes) {
        if (bytes <= current || current == maxBytes) return current;
        return Math.min(maxBytes, Math.max(Math.max(bytes, MIN_BYTES), 2 * current));
    }

    /** Copies src's first dst.length floats into dst; returns when they are there. */
    void download(float[] dst, DevicePointer src) {
        download(4L * dst.length, src, (staging, at, bytes) -> MemorySegment.copy(staging, JAVA_FLOAT, 0, dst, (int) (at / 4), (int) (bytes / 4)));
    }

    /** Copies src's first dst.length ints into dst; returns when they are there. */
    void download(int[] dst, DevicePointer src) {
        download(4L * dst.length, src, (staging, at, bytes) -> MemorySegment.copy(staging, JAVA_INT, 0, dst, (int) (at / 4), (int) (bytes / 4)));
    }

    private void download(long total, DevicePointer src, Unstage unstage) {
        if (total == 0) return;
        MemorySegment staging = reserve(total);
        for (long at = 0; at < total; at += staging.byteSize()) {
            long bytes = Math.min(staging.byteSize(), total - at);
            host.copyToPinnedAsync(staging, src, at, bytes);
            host.synchronize();
            unstage.from(staging, at, bytes);
        }
    }

    /** The staging buffer, grown (within the cap) for a transfer of {@code bytes}. */
    private MemorySegment reserve(long bytes) {
        long current = buffer == null ? 0 : buffer.byteSize();
        long wanted = bufferBytes(bytes, current, maxBytes);
        if (wanted == current) return buffer;
        release();
        buffer = host.allocatePinned(wanted);
        return buffer;
    }

    /** Bytes of page-locked memory held. */
    long heldBytes() {
        return buffer == null ? 0 : buffer.byteSize();
    }

    private void release() {
        if (buffer == null) return;
        MemorySegment b = buffer;
        buffer = null; // freed: not to be freed again if the next allocation fails
        host.freePinned(b);
    }

    /** Frees the buffer (the stream must have no copy into it still queued); safe to call twice. */
    @Override
    public void close() {
        release();
    }
}
