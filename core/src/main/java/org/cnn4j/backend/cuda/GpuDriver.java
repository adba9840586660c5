package org.cnn4j.backend.cuda;

import java.util.List;

/**
 * What the CUDA backend asks of the GPU driver: device memory, copies on one stream, PTX modules,
 * kernel launches and stream capture. {@link CudaDriver} implements it over the CUDA driver API;
 * the tests also run the backend over an emulator that executes the PTX kernels on the CPU.
 */
interface GpuDriver extends AutoCloseable {
    /** "NVIDIA H100 80GB HBM3 (sm_90, driver 13.0)". */
    String description();

    /** The device's compute capability {major, minor}, e.g. {9, 0} for an H100 or H200. */
    int[] computeCapability();

    /** Makes this device's context current on the calling thread (each thread needs it once). */
    void makeCurrent();

    /** The raw handle of the stream all work goes to (for cudnnSetStream and cublasSetStream). */
    long streamAddress();

    /** {free, total} bytes of device memory. */
    long[] memoryInfo();

    /** Allocates, or returns null when the device is out of memory (other failures throw). */
    DevicePointer tryAllocate(long bytes);

    void free(DevicePointer p);

    /**
     * The caching allocator hands out again a block of {@code bytes} that an earlier tensor used:
     * it holds whatever that tensor left there, which the new owner must not read before it writes.
     * A GPU leaves it so; an emulator fills it with NaN, as it does new allocations, so that such a
     * read shows.
     */
    default void reused(DevicePointer p, long bytes) {
    }

    /** Queues the copy of src to dst on the stream and returns without waiting for it. */
    void copyToDevice(DevicePointer dst, float[] src);

    void copyToDevice(DevicePointer dst, int[] src);

    /** Bytes of device memory the driver holds for itself (upload staging buffers), outside the backend's tensors. */
    long deviceStagingBytes();

    /** Copies to the host once the stream's earlier work is done; returns when the values are there. */
    void copyToHost(float[] dst, DevicePointer src);

    void copyToHost(int[] dst, DevicePointer src);

    /** Queues a device-to-device copy of {@code bytes}. */
    void copy(DevicePointer dst, DevicePointer src, long bytes);

    /** Sets {@code count} 32-bit words to {@code bits}. */
    void fill32(DevicePointer dst, int bits, long count);

    /** Waits until all work issued to the stream has run; reports an earlier asynchronous failure. */
    void synchronize();

    /**
     * From now on each host wait for the device gives up after {@code limitNanos} and calls
     * {@code expiry} (null: waits without a deadline again). A device that runs its work as it is
     * issued (an emulator) never waits, and ignores it.
     */
    default void guardWaits(long limitNanos, DeviceWait.Expiry expiry) {
    }

    /** Loads a PTX module (the driver compiles it for this GPU) and registers its entry points. */
    void loadModule(String file, String ptx, List<String> entries);

    /**
     * The most blocks the backend gives a launch whose work it can split freely: its kernels'
     * grid-stride loops cover the rest. 65535 on a GPU, which is enough to fill one; an emulator
     * gives few, so that those loops go round on small tensors too.
     */
    default int maxBlocks() {
        return 65535;
    }

    /**
     * Launches a kernel on a 1-D grid. Arguments: a {@link DevicePointer} or Long (a device address
     * or a 64-bit integer), Integer (32 bits), Float; null stands for a null pointer.
     */
    void launch(String kernel, int blocks, int threads, int sharedBytes, Object... args);

    /** From now on, work issued on this thread to the stream is recorded, not run, until {@link #endCapture}. */
    void beginCapture();

    /**
     * Stops recording. With {@code keep}, returns the recorded work as an executable graph (failing
     * with the driver's reason when the capture was invalidated); without, discards it and returns
     * null. The stream is out of capture mode afterwards either way.
     */
    Recording endCapture(boolean keep);

    /** Whether the stream is recording a graph (see {@link #beginCapture}). */
    boolean capturing();

    @Override
    void close();

    /** Recorded work, launched on the stream as one unit. */
    interface Recording extends AutoCloseable {
        /** Queues the recorded work on the stream. */
        void launch();

        @Override
        void close();
    }
}
