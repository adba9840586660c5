package org.cnn4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventQuery;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamQuery;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * The CUDA driver API through JCuda: the device's primary context, one stream, events, device
 * memory, pinned host buffers, copies, PTX modules and kernel launches. Every call is checked; a
 * failure names the call and CUDA's error.
 *
 * <p>All work goes to one non-blocking stream of cnn4j's own, which cuDNN and cuBLAS are set to use
 * too, so everything runs in issue order and nothing waits on other code's work on the legacy
 * default stream. Uploads go through two pinned staging buffers in turn: the values are copied
 * into one, the DMA copy is queued and an event recorded, and the call returns while the device
 * copies (and finishes earlier work), so the host can prepare the next batch meanwhile; a buffer
 * is reused only after its event has passed. Downloads go through a pinned buffer too
 * ({@link PinnedStaging}): the device copies into it, the stream is synchronised, and then the
 * values are copied into the array. A staging buffer holds at most {@value PinnedStaging#MAX_BYTES}
 * bytes; bigger transfers go in chunks.
 *
 * <p>Uploads of {@value #AHEAD_MIN_BYTES} bytes or more (a batch) also overlap the stream's work:
 * the DMA copy goes, on a second stream, into a device staging buffer (two in turn), and the stream
 * then only waits for it and copies device to device, a few microseconds, instead of waiting for
 * its earlier work and then the whole transfer. The copy stream never touches a tensor, only its
 * staging buffers, each of which it refills only after the stream has copied it out (events both
 * ways). {@code -Dcnn4j.uploadAhead=false} turns this off.
 *
 * <p>Work issued to the stream can be recorded instead of run ({@link #beginCapture}, stream
 * capture) and replayed as one graph launch. While recording, copies to and from the host are
 * refused with an error that says so, since a graph would replay them from stale host buffers.
 */
final class CudaDriver implements GpuDriver {
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final Stream stream = new Stream();
    private final String name;
    private final int major, minor, driverVersion;
    private final List<CUmodule> modules = new ArrayList<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Ring direct = new Ring(false), ahead = new Ring(true);
    private final PinnedStaging downloads = new PinnedStaging(new PinnedStaging.Host() {
        @Override
        public MemorySegment allocatePinned(long bytes) {
            return CudaDriver.allocatePinned(bytes);
        }

        @Override
        public void freePinned(MemorySegment pinned) {
            cuMemFreeHost(new HostPointer(pinned.address()));
        }

        @Override
        public void copyToPinnedAsync(MemorySegment pinned, DevicePointer src, long offset, long bytes) {
            check(cuMemcpyDtoHAsync(new HostPointer(pinned.address()), src.withByteOffset(offset), bytes, stream),
                    "cuMemcpyDtoHAsync(" + bytes + " bytes, pinned)");
        }

        @Override
        public void synchronize() {
            CudaDriver.this.synchronize();
        }
    });
    /** Uploads at least this big overlap the stream's work (see the class comment). */
    static final long AHEAD_MIN_BYTES = 64 << 10;
    private static final boolean UPLOAD_AHEAD = !"false".equals(System.getProperty("cnn4j.uploadAhead"));
    private final Stream copyStream = new Stream();
    private boolean capturing, closed;
    /** The deadline of host waits for the device and what to do past it; no deadline while the expiry is null. */
    private volatile long waitLimitNanos;
    private volatile DeviceWait.Expiry waitExpiry;

    /** A JCuda stream whose raw handle can be handed to cuDNN and cuBLAS. */
    static final class Stream extends CUstream {
        long address() {
            return getNativePointer();
        }
    }

    /** A JCuda host pointer made from, or giving, a raw address (page-locked memory seen as a MemorySegment). */
    private static final class HostPointer extends Pointer {
        HostPointer() {
        }

        HostPointer(long address) {
            super(address);
        }

        long address() {
            return getNativePointer();
        }
    }

    /** {@code bytes} of page-locked host memory (cuMemAllocHost), as a segment. */
    private static MemorySegment allocatePinned(long bytes) {
        HostPointer p = new HostPointer();
        check(cuMemAllocHost(p, bytes), "cuMemAllocHost(" + bytes + " bytes)");
        return MemorySegment.ofAddress(p.address()).reinterpret(bytes);
    }

    /** A CUDA event: marks a point in the stream, to wait for or to time. */
    final class Event implements AutoCloseable {
        private final CUevent event = new CUevent();
        private boolean closed;

        private Event(boolean timing) {
            check(cuEventCreate(event, timing ? CUevent_flags.CU_EVENT_DEFAULT : CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
        }

        /** Marks the stream's current end: the event passes when all work issued so far has run. */
        void record() {
            record(stream);
        }

        /** Marks the current end of another stream. */
        void record(CUstream on) {
            check(cuEventRecord(event, on), "cuEventRecord");
        }

        /** Makes {@code waiting} wait, on the device, until this event has passed. */
        void delay(CUstream waiting) {
            check(cuStreamWaitEvent(waiting, event, 0), "cuStreamWaitEvent");
        }

        /** Waits on the host until the event has passed (under the deadline {@link #guardWaits} set, if any). */
        void synchronize() {
            DeviceWait.Expiry expiry = waitExpiry;
            if (expiry == null) {
                check(cuEventSynchronize(event), "cuEventSynchronize");
            } else {
                DeviceWait.until(() -> ready(cuEventQuery(event), "cuEventQuery"), "an event on the device", waitLimitNanos, expiry);
            }
        }

        /** Milliseconds of device time from {@code start} to this event (both recorded, this one passed). */
        float millisecondsSince(Event start) {
            float[] ms = new float[1];
            check(cuEventElapsedTime(ms, start.event, event), "cuEventElapsedTime");
            return ms[0];
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            cuEventDestroy(event);
        }
    }

    /**
     * A page-locked host buffer for uploads and the event after its last copy from it; for uploads
     * that overlap the stream's work ({@code ahead}), also a device buffer of the same size, which
     * the copy stream fills ({@code copied} then passes) and the stream copies out ({@code consumed}).
     */
    private final class Upload {
        final long bytes;
        final MemorySegment host;
        final DevicePointer device;
        final Event copied, consumed;

        /** Takes the buffers and events one by one; if one fails, frees those taken before rethrowing. */
        Upload(long bytes, boolean ahead) {
            this.bytes = bytes;
            MemorySegment h = null;
            Event e1 = null, e2 = null;
            DevicePointer d = null;
            try {
                h = allocatePinned(bytes);
                e1 = new Event(false);
                if (ahead) {
                    e2 = new Event(false);
                    DevicePointer p = new DevicePointer();
                    check(cuMemAlloc(p, bytes), "cuMemAlloc(" + bytes + " bytes, an upload staging buffer)");
                    d = p;
                }
            } catch (RuntimeException failure) {
                if (e2 != null) e2.close();
                if (e1 != null) e1.close();
                if (h != null) cuMemFreeHost(new HostPointer(h.address()));
                throw failure;
            }
            host = h;
            copied = e1;
            consumed = e2;
            device = d;
        }

        Pointer hostPointer() {
            return new HostPointer(host.address());
        }

        void free() {
            copied.synchronize();
            copied.close();
            if (device != null) {
                consumed.synchronize();
                consumed.close();
                cuMemFree(device);
            }
            cuMemFreeHost(hostPointer());
        }
    }

    /** Two upload buffers used in turn, each growing (doubling) when a bigger upload comes. */
    private final class Ring {
        final boolean ahead;
        final Upload[] slots = new Upload[2];
        int next;

        Ring(boolean ahead) {
            this.ahead = ahead;
        }

        /** The next buffer, at least {@code bytes} long ({@code bytes} at most the cap), once its previous copy from the host has finished. */
        Upload take(long bytes) {
            refuseWhileCapturing("an upload from the host");
            int i = next;
            next ^= 1;
            Upload u = slots[i];
            if (u != null && u.bytes >= bytes) {
                u.copied.synchronize();
                return u;
            }
            if (u != null) u.free();
            slots[i] = null; // freed: not to be freed again if the bigger allocation fails
            long current = u == null ? 0 : u.bytes;
            long size = ahead ? Math.min(PinnedStaging.MAX_BYTES, Math.max(bytes, 2 * current))
                    : PinnedStaging.bufferBytes(bytes, current, PinnedStaging.MAX_BYTES);
            slots[i] = new Upload(size, ahead);
            return slots[i];
        }

        long deviceBytes() {
            long total = 0;
            for (Upload u : slots) {
                if (u != null && u.device != null) total += u.bytes;
            }
            return total;
        }

        void free() {
            for (Upload u : slots) {
                if (u != null) u.free();
            }
        }
    }

    /**
     * Opens device {@code ordinal}. Throws UnsatisfiedLinkError when JCuda's native library or
     * libcuda cannot be loaded, CudaException when the driver has no usable device.
     */
    CudaDriver(int ordinal) {
        JCudaDriver.setExceptionsEnabled(false);
        check(cuInit(0), "cuInit");
        int[] count = new int[1];
        check(cuDeviceGetCount(count), "cuDeviceGetCount");
        if (count[0] <= ordinal) throw new CudaException("no CUDA device " + ordinal + ": the driver reports " + count[0]);
        check(cuDeviceGet(device, ordinal), "cuDeviceGet");
        byte[] bytes = new byte[256];
        check(cuDeviceGetName(bytes, bytes.length, device), "cuDeviceGetName");
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) end++;
        name = new String(bytes, 0, end, StandardCharsets.US_ASCII);
        major = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        minor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        int[] version = new int[1];
        check(cuDriverGetVersion(version), "cuDriverGetVersion");
        driverVersion = version[0];
        check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        check(cuStreamCreate(copyStream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(the upload stream)");
    }

    /** The raw handle of the stream all work goes to (for cudnnSetStream and cublasSetStream). */
    @Override
    public long streamAddress() {
        return stream.address();
    }

    /** A new event on this driver's stream; {@code timing} when it will be used to measure time. */
    Event event(boolean timing) {
        return new Event(timing);
    }

    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) throw new CudaException(call + " failed: " + CUresult.stringFor(result));
    }

    private int attribute(int which) {
        int[] v = new int[1];
        check(cuDeviceGetAttribute(v, which, device), "cuDeviceGetAttribute");
        return v[0];
    }

    /** "NVIDIA H100 80GB HBM3 (sm_90, driver 13.0)". */
    @Override
    public String description() {
        return name + " (sm_" + major + minor + ", driver " + driverVersion / 1000 + "." + driverVersion % 1000 / 10 + ")";
    }

    @Override
    public int[] computeCapability() {
        return new int[] {major, minor};
    }

    /** Makes this device's context current on the calling thread (each thread needs it once). */
    @Override
    public void makeCurrent() {
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    // ---------------------------------------------------------------- memory

    /** {free, total} bytes of device memory. */
    @Override
    public long[] memoryInfo() {
        long[] free = new long[1], total = new long[1];
        check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    /** Allocates, or returns null when the device is out of memory (other failures throw). */
    @Override
    public DevicePointer tryAllocate(long bytes) {
        DevicePointer p = new DevicePointer();
        int result = cuMemAlloc(p, bytes);
        if (result == CUresult.CUDA_ERROR_OUT_OF_MEMORY) return null;
        check(result, "cuMemAlloc(" + bytes + " bytes)");
        return p;
    }

    @Override
    public void free(DevicePointer p) {
        check(cuMemFree(p), "cuMemFree");
    }

    /**
     * Queues the copy of src to dst on the stream, through pinned buffers (chunks of at most
     * {@value PinnedStaging#MAX_BYTES} bytes), and returns without waiting for it. (A copy straight
     * from a Java array would be from pageable memory, for which the driver first waits for the
     * whole stream.)
     */
    @Override
    public void copyToDevice(DevicePointer dst, float[] src) {
        upload(dst, 4L * src.length, (u, at, bytes) -> MemorySegment.copy(src, (int) (at / 4), u.host, JAVA_FLOAT, 0, (int) (bytes / 4)));
    }

    @Override
    public void copyToDevice(DevicePointer dst, int[] src) {
        upload(dst, 4L * src.length, (u, at, bytes) -> MemorySegment.copy(src, (int) (at / 4), u.host, JAVA_INT, 0, (int) (bytes / 4)));
    }

    /** Copies {@code bytes} of the source from byte {@code at} into the start of a staging buffer. */
    private interface Stage {
        void into(Upload u, long at, long bytes);
    }

    /** Sends {@code total} bytes to dst in chunks of at most the staging cap, each staged by {@code stage}. */
    private void upload(DevicePointer dst, long total, Stage stage) {
        for (long at = 0; at < total; at += PinnedStaging.MAX_BYTES) {
            long bytes = Math.min(PinnedStaging.MAX_BYTES, total - at);
            Upload u = upload(bytes);
            stage.into(u, at, bytes);
            send(dst.withByteOffset(at), u, bytes);
        }
    }

    private Upload upload(long bytes) {
        return (UPLOAD_AHEAD && bytes >= AHEAD_MIN_BYTES ? ahead : direct).take(bytes);
    }

    /**
     * Directly: host to {@code dst} on the stream. Ahead: host to the device buffer on the copy
     * stream, once the stream has copied out what it held before; then, on the stream, once that
     * transfer is done, device buffer to {@code dst}.
     */
    private void send(CUdeviceptr dst, Upload u, long bytes) {
        if (u.device == null) {
            check(cuMemcpyHtoDAsync(dst, u.hostPointer(), bytes, stream), "cuMemcpyHtoDAsync(" + bytes + " bytes, pinned)");
            u.copied.record();
            return;
        }
        u.consumed.delay(copyStream);
        check(cuMemcpyHtoDAsync(u.device, u.hostPointer(), bytes, copyStream), "cuMemcpyHtoDAsync(" + bytes + " bytes, pinned, upload stream)");
        u.copied.record(copyStream);
        u.copied.delay(stream);
        check(cuMemcpyDtoDAsync(dst, u.device, bytes, stream), "cuMemcpyDtoDAsync(" + bytes + " bytes, from upload staging)");
        u.consumed.record();
    }

    @Override
    public long deviceStagingBytes() {
        return ahead.deviceBytes();
    }

    /** Copies to the host once the stream's earlier work is done; returns when the values are there. */
    @Override
    public void copyToHost(float[] dst, DevicePointer src) {
        refuseWhileCapturing("a download to the host");
        downloads.download(dst, src);
    }

    @Override
    public void copyToHost(int[] dst, DevicePointer src) {
        refuseWhileCapturing("a download to the host");
        downloads.download(dst, src);
    }

    @Override
    public void copy(DevicePointer dst, DevicePointer src, long bytes) {
        check(cuMemcpyDtoDAsync(dst, src, bytes, stream), "cuMemcpyDtoDAsync(" + bytes + " bytes)");
    }

    /** Sets {@code count} 32-bit words to {@code bits}. */
    @Override
    public void fill32(DevicePointer dst, int bits, long count) {
        check(cuMemsetD32Async(dst, bits, count, stream), "cuMemsetD32Async(" + count + " words)");
    }

    /**
     * Waits until all work issued to the stream has run (under the deadline {@link #guardWaits}
     * set, if any); reports an earlier asynchronous failure.
     */
    @Override
    public void synchronize() {
        refuseWhileCapturing("waiting for the device");
        DeviceWait.Expiry expiry = waitExpiry;
        if (expiry == null) {
            check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        } else {
            DeviceWait.until(() -> ready(cuStreamQuery(stream), "cuStreamQuery"), "the stream's work", waitLimitNanos, expiry);
        }
    }

    @Override
    public void guardWaits(long limitNanos, DeviceWait.Expiry expiry) {
        if (expiry != null && limitNanos <= 0) throw new IllegalArgumentException("a wait's deadline must be positive, got " + limitNanos + " ns");
        this.waitLimitNanos = limitNanos;
        this.waitExpiry = expiry;
    }

    /** Whether a query's status says the work is done (CUDA_ERROR_NOT_READY: not yet); other failures throw. */
    private static boolean ready(int status, String call) {
        if (status == CUresult.CUDA_ERROR_NOT_READY) return false;
        check(status, call);
        return true;
    }

    // ---------------------------------------------------------------- graphs

    /** An instantiated graph of recorded work, launched on the stream as one unit. */
    final class Graph implements GpuDriver.Recording {
        private final CUgraphExec exec = new CUgraphExec();
        private boolean closed;

        private Graph(CUgraph graph) {
            check(cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
        }

        /** Queues the recorded work on the stream. */
        @Override
        public void launch() {
            check(cuGraphLaunch(exec, stream), "cuGraphLaunch");
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            cuGraphExecDestroy(exec);
        }
    }

    /**
     * From now on, work issued on this thread to the stream is recorded, not run (thread-local
     * capture mode: other threads' unsafe calls are not disturbed), until {@link #endCapture}.
     */
    @Override
    public void beginCapture() {
        if (capturing) throw new IllegalStateException("already recording a graph");
        check(cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
        capturing = true;
    }

    /**
     * Stops recording. With {@code keep}, returns the recorded work as an executable graph (failing
     * with CUDA's reason when the capture was invalidated); without, discards it and returns null.
     * The stream is out of capture mode afterwards either way.
     */
    @Override
    public Graph endCapture(boolean keep) {
        capturing = false;
        CUgraph graph = new CUgraph();
        int result = cuStreamEndCapture(stream, graph);
        try {
            check(result, "cuStreamEndCapture");
            return keep ? new Graph(graph) : null;
        } finally {
            if (result == CUresult.CUDA_SUCCESS) cuGraphDestroy(graph);
        }
    }

    /** Whether the stream is recording a graph (see {@link #beginCapture}). */
    @Override
    public boolean capturing() {
        return capturing;
    }

    private void refuseWhileCapturing(String what) {
        if (capturing) throw new IllegalStateException(what + " inside a step recorded as a CUDA graph");
    }

    // ---------------------------------------------------------------- kernels

    /** Loads a PTX module (the driver compiles it for this GPU) and registers its entry points. */
    @Override
    public void loadModule(String file, String ptx, List<String> entries) {
        CUmodule module = new CUmodule();
        check(cuModuleLoadData(module, ptx), "cuModuleLoadData(" + file + ")");
        modules.add(module);
        for (String entry : entries) {
            CUfunction f = new CUfunction();
            check(cuModuleGetFunction(f, module, entry), "cuModuleGetFunction(" + file + ", " + entry + ")");
            functions.put(entry, f);
        }
    }

    /**
     * Launches a kernel on a 1-D grid. Arguments: a {@link DevicePointer} or Long (a device address
     * or a 64-bit integer), Integer (32 bits), Float; null stands for a null pointer.
     */
    @Override
    public void launch(String kernel, int blocks, int threads, int sharedBytes, Object... args) {
        CUfunction f = functions.get(kernel);
        if (f == null) throw new IllegalStateException("no kernel '" + kernel + "' is loaded");
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            params[i] = switch (a) {
                case null -> Pointer.to(new long[] {0});
                case DevicePointer p -> Pointer.to(new long[] {p.address()});
                case Long v -> Pointer.to(new long[] {v});
                case Integer v -> Pointer.to(new int[] {v});
                case Float v -> Pointer.to(new float[] {v});
                case Double v -> Pointer.to(new double[] {v});
                default -> throw new IllegalArgumentException("kernel argument " + i + " of " + kernel + " has unsupported type "
                        + a.getClass().getSimpleName());
            };
        }
        check(cuLaunchKernel(f, blocks, 1, 1, threads, 1, 1, sharedBytes, stream, Pointer.to(params), null),
                "cuLaunchKernel(" + kernel + ", " + blocks + "x" + threads + ")");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        cuCtxSynchronize();
        direct.free();
        ahead.free();
        downloads.close();
        cuStreamSynchronize(copyStream);
        cuStreamDestroy(copyStream);
        cuStreamDestroy(stream);
        for (CUmodule m : modules) cuModuleUnload(m);
        cuDevicePrimaryCtxRelease(device);
    }
}
