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
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * The CUDA driver API through JCuda: the device's primary context, device memory, copies, PTX
 * modules and kernel launches. Every call is checked; a failure names the call and CUDA's error.
 * Work goes to the legacy default stream, which cuDNN and cuBLAS also use, so everything runs in
 * issue order.
 */
final class CudaDriver implements AutoCloseable {
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final String name;
    private final int major, minor, driverVersion;
    private final List<CUmodule> modules = new ArrayList<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private boolean closed;

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
    String description() {
        return name + " (sm_" + major + minor + ", driver " + driverVersion / 1000 + "." + driverVersion % 1000 / 10 + ")";
    }

    /** Makes this device's context current on the calling thread (each thread needs it once). */
    void makeCurrent() {
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    // ---------------------------------------------------------------- memory

    /** {free, total} bytes of device memory. */
    long[] memoryInfo() {
        long[] free = new long[1], total = new long[1];
        check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    /** Allocates, or returns null when the device is out of memory (other failures throw). */
    DevicePointer tryAllocate(long bytes) {
        DevicePointer p = new DevicePointer();
        int result = cuMemAlloc(p, bytes);
        if (result == CUresult.CUDA_ERROR_OUT_OF_MEMORY) return null;
        check(result, "cuMemAlloc(" + bytes + " bytes)");
        return p;
    }

    void free(DevicePointer p) {
        check(cuMemFree(p), "cuMemFree");
    }

    void copyToDevice(DevicePointer dst, float[] src) {
        check(cuMemcpyHtoD(dst, Pointer.to(src), 4L * src.length), "cuMemcpyHtoD(" + 4L * src.length + " bytes)");
    }

    void copyToDevice(DevicePointer dst, int[] src) {
        check(cuMemcpyHtoD(dst, Pointer.to(src), 4L * src.length), "cuMemcpyHtoD(" + 4L * src.length + " bytes)");
    }

    void copyToHost(float[] dst, DevicePointer src) {
        check(cuMemcpyDtoH(Pointer.to(dst), src, 4L * dst.length), "cuMemcpyDtoH(" + 4L * dst.length + " bytes)");
    }

    void copyToHost(int[] dst, DevicePointer src) {
        check(cuMemcpyDtoH(Pointer.to(dst), src, 4L * dst.length), "cuMemcpyDtoH(" + 4L * dst.length + " bytes)");
    }

    void copy(DevicePointer dst, DevicePointer src, long bytes) {
        check(cuMemcpyDtoD(dst, src, bytes), "cuMemcpyDtoD(" + bytes + " bytes)");
    }

    /** Sets {@code count} 32-bit words to {@code bits}. */
    void fill32(DevicePointer dst, int bits, long count) {
        check(cuMemsetD32(dst, bits, count), "cuMemsetD32(" + count + " words)");
    }

    void synchronize() {
        check(cuCtxSynchronize(), "cuCtxSynchronize");
    }

    // ---------------------------------------------------------------- kernels

    /** Loads a PTX module (the driver compiles it for this GPU) and registers its entry points. */
    void loadModule(String file, String ptx, List<String> entries) {
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
    void launch(String kernel, int blocks, int threads, int sharedBytes, Object... args) {
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
                default -> throw new IllegalArgumentException("kernel argument " + i + " of " + kernel + " has unsupported type "
                        + a.getClass().getSimpleName());
            };
        }
        check(cuLaunchKernel(f, blocks, 1, 1, threads, 1, 1, sharedBytes, null, Pointer.to(params), null),
                "cuLaunchKernel(" + kernel + ", " + blocks + "x" + threads + ")");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (CUmodule m : modules) cuModuleUnload(m);
        cuDevicePrimaryCtxRelease(device);
    }
}
