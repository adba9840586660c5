package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.SplittableRandom;

import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * How the CUDA backend sets up cuDNN and cuBLAS around a device, on the emulated GPU: an algorithm
 * search that cannot allocate is retried once with the allocator's cache returned to the driver,
 * then replaced by cuDNN's heuristics (a zero-workspace algorithm, kept for the shape); cuBLAS gets
 * the workspace its own guidance asks for the device's compute capability.
 */
class AlgorithmSearchTest {
    /** An emulated GPU that counts the blocks returned to it. */
    private static final class CountingGpu extends EmulatedGpu {
        int frees;

        CountingGpu() {
            super(1L << 30);
        }

        @Override
        public void free(DevicePointer p) {
            frees++;
            super.free(p);
        }
    }

    /** The emulator's cuDNN with its first {@code failures} searches out of memory, counting calls. */
    private static final class FailingSearches {
        int failures, searches, heuristics;

        Dnn over(Dnn dnn) {
            return (Dnn) Proxy.newProxyInstance(Dnn.class.getClassLoader(), new Class<?>[] {Dnn.class}, (proxy, method, args) -> {
                if (method.getName().equals("choose")) {
                    searches++;
                    if (failures > 0) {
                        failures--;
                        throw new Dnn.SearchOutOfMemory("cudnnFindConvolutionForwardAlgorithm could not allocate (status 4004)");
                    }
                }
                if (method.getName().equals("chooseWithoutSearch")) heuristics++;
                try {
                    return method.invoke(dnn, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            });
        }
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** Runs one convolution on the GPU and on the CPU, and returns the largest difference relative to the CPU's largest value. */
    private static double convolveAndCompare(CudaBackend gpu, ConvGeometry g, int n) {
        Shape xs = Shape.of(n, g.c(), g.h(), g.w()), ws = Shape.of(g.k(), g.c(), g.r(), g.s()), ys = Shape.of(n, g.k(), g.p(), g.q());
        float[] x = random(xs.size(), 1), w = random(ws.size(), 2);
        CpuBackend cpu = new CpuBackend(1);
        try (Tensor gx = gpu.upload(xs, x); Tensor gw = gpu.upload(ws, w); Tensor gy = gpu.allocate(ys);
             Tensor cx = cpu.upload(xs, x); Tensor cw = cpu.upload(ws, w); Tensor cy = cpu.allocate(ys)) {
            gpu.convForward(gy, gx, gw, g);
            cpu.convForward(cy, cx, cw, g);
            float[] got = gpu.downloadFloats(gy), want = cpu.downloadFloats(cy);
            double worst = 0, scale = 0;
            for (int i = 0; i < want.length; i++) {
                worst = Math.max(worst, Math.abs(got[i] - want[i]));
                scale = Math.max(scale, Math.abs(want[i]));
            }
            return worst / scale;
        }
    }

    /** A strict-float32 backend over the device, its cuDNN's searches failing as {@code dnn} says. */
    private static CudaBackend strictBackend(CountingGpu device, FailingSearches dnn) {
        return new CudaBackend(CudaBackend.Options.defaults().strictFloat32(), device, () -> dnn.over(device.dnn()), device::blas);
    }

    @Test
    void aSearchOutOfMemoryIsRetriedOnceAfterTheCacheIsEmptied() {
        CountingGpu device = new CountingGpu();
        FailingSearches dnn = new FailingSearches();
        dnn.failures = 1;
        ConvGeometry g = ConvGeometry.square(3, 9, 9, 5, 3, 1, 1, 1);
        try (CudaBackend gpu = strictBackend(device, dnn)) {
            gpu.allocate(Shape.of(1000)).close(); // a block for the cache to hold
            int before = device.frees;
            assertTrue(convolveAndCompare(gpu, g, 2) < 1e-5);
            assertEquals(2, dnn.searches, "searched, failed, searched again");
            assertEquals(0, dnn.heuristics);
            assertTrue(device.frees > before, "the cached blocks went back to the driver before the retry");
        }
    }

    @Test
    void aSearchThatStillCannotAllocateFallsBackToHeuristicsWithoutWorkspaceForThatShape() {
        CountingGpu device = new CountingGpu();
        FailingSearches dnn = new FailingSearches();
        dnn.failures = 2;
        ConvGeometry g = ConvGeometry.square(3, 9, 9, 5, 3, 1, 1, 1);
        try (CudaBackend gpu = strictBackend(device, dnn)) {
            assertTrue(convolveAndCompare(gpu, g, 2) < 1e-5, "the heuristic algorithm computes the same convolution");
            assertEquals(2, dnn.searches);
            assertEquals(1, dnn.heuristics);
            assertTrue(convolveAndCompare(gpu, g, 2) < 1e-5);
            assertEquals(2, dnn.searches, "the fallback is kept for the shape: no search on every step");
            assertEquals(1, dnn.heuristics);
            assertTrue(convolveAndCompare(gpu, g, 3) < 1e-5, "another batch size is another shape");
            assertEquals(3, dnn.searches, "and it searches again, now that the searches succeed");
        }
    }

    @Test
    void cublasGets32MiBOfWorkspaceFromHopperOnAnd4MiBBelow() {
        assertEquals(32L << 20, CudaBackend.cublasWorkspaceBytes(9, 0));
        assertEquals(32L << 20, CudaBackend.cublasWorkspaceBytes(10, 0));
        assertEquals(4L << 20, CudaBackend.cublasWorkspaceBytes(8, 9));
        assertEquals(4L << 20, CudaBackend.cublasWorkspaceBytes(7, 0));
        for (int[] cc : new int[][] {{9, 0}, {8, 6}}) {
            EmulatedGpu device = new EmulatedGpu(1L << 30).computeCapability(cc[0], cc[1]);
            try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults(), device, device::dnn, device::blas)) {
                assertEquals(cc[0] >= 9 ? 32L << 20 : 4L << 20, device.cublasWorkspaceBytes(), "sm_" + cc[0] + cc[1]);
            }
        }
    }

    @Test
    void theBackendDescribesItsDeviceAndLibraries() {
        EmulatedGpu device = new EmulatedGpu(3L << 30).computeCapability(9, 0);
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults(), device, device::dnn, device::blas)) {
            List<String> lines = gpu.describe();
            assertEquals(5, lines.size(), String.valueOf(lines));
            assertTrue(lines.get(4).startsWith("NCCL"), lines.get(4)); // its version and file, or why it is not usable (NcclBindingsTest)
            assertTrue(lines.get(0).startsWith("emulated GPU (PTX interpreter), compute capability 9.0, 3.0 GiB of memory ("), lines.get(0));
            assertTrue(lines.get(1).startsWith("CUDA driver: "), lines.get(1));
            assertTrue(lines.get(2).startsWith("cuDNN ") && lines.get(3).equals("cuBLAS 13.0.0: emulated cuBLAS"), String.valueOf(lines));
        }
    }
}
