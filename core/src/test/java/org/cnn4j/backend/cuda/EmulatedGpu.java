package org.cnn4j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.cnn4j.backend.cuda.PtxInterpreter.Region;

import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.tensor.Shape;

/**
 * A GPU emulated on the CPU, for running the CUDA backend where there is no GPU: device memory is
 * a set of checked allocations, the PTX kernels run in {@link PtxInterpreter}, and cuDNN's and
 * cuBLAS's operations are naive loops with the semantics the backend's calls ask of the real
 * libraries (convolution in double, inputs rounded to TF32 when the math type allows tensor
 * cores). Stream capture records the issued work and a recording's replay runs it again, reading
 * memory as it is then and kernel arguments as they were recorded, as a CUDA graph does.
 *
 * <p>What it checks that a GPU would not: every access by a kernel or library call lies inside a
 * live allocation (freed blocks are gone, and allocations are separated by gaps), kernel arguments
 * match the kernel's parameters, no two threads of a kernel race on a global word, no two threads
 * of a block race on a shared word between barriers, the threads of a block wait at the same
 * barrier, a convolution's workspace is as large as its algorithm asked, new allocations and
 * blocks the caching allocator hands out again read as NaN until written, and a download's values
 * reach host memory only when the stream is synchronised (as an asynchronous copy into page-locked
 * memory does), so a download read before that sees stale values. Launches get at most
 * {@link #maxBlocks} blocks, so the kernels' grid-stride loops, which on a GPU go round again only
 * for tensors of millions of values, go round on small ones here. What it cannot check: the JCuda
 * and foreign-function bindings (CudaBindingsTest checks those against stub libraries), timing, and
 * the hardware's approximate instructions (computed correctly rounded).
 */
class EmulatedGpu implements GpuDriver, PtxInterpreter.Memory {
    private static final long BASE = 1L << 40, ALIGN = 256, GAP = 256;
    /** Four of them are a float NaN (and the int -1): what memory nothing has written holds here. */
    private static final byte NAN_BYTE = (byte) 0xFF;

    private final long capacity;
    private final TreeMap<Long, Region> blocks = new TreeMap<>();
    private final Map<String, PtxInterpreter> kernels = new HashMap<>();
    private long next = BASE, used;
    private Region last;
    /** While capturing: the work issued, and what each piece is (a kernel's name, "memcpy", "cudnn convolutionForward"...). */
    private List<Work> recording;
    private int[] computeCapability = {8, 0};
    private long cublasWorkspaceBytes;
    /** Page-locked host buffers by address, and the copies into them that land at the next synchronise. */
    private final Map<Long, Arena> pinned = new HashMap<>();
    private final List<Runnable> landing = new ArrayList<>();
    private final PinnedStaging downloads = new PinnedStaging(new PinnedStaging.Host() {
        @Override
        public MemorySegment allocatePinned(long bytes) {
            Arena arena = Arena.ofShared();
            MemorySegment m = arena.allocate(bytes, 256);
            m.fill(NAN_BYTE); // NaN until a copy lands
            pinned.put(m.address(), arena);
            return m;
        }

        @Override
        public void freePinned(MemorySegment m) {
            Arena arena = pinned.remove(m.address());
            if (arena == null) throw new IllegalArgumentException("cuMemFreeHost(0x" + Long.toHexString(m.address()) + "): not page-locked memory");
            arena.close();
        }

        @Override
        public void copyToPinnedAsync(MemorySegment m, DevicePointer src, long offset, long bytes) {
            refuseWhileCapturing("a download to the host");
            if (!pinned.containsKey(m.address())) throw new IllegalArgumentException("cuMemcpyDtoHAsync into memory that is not page-locked");
            Region r = region(src.address() + offset, bytes);
            byte[] values = new byte[(int) bytes];
            r.data().get((int) (src.address() + offset - r.start()), values);
            landing.add(() -> MemorySegment.copy(values, 0, m, ValueLayout.JAVA_BYTE, 0, values.length));
        }

        @Override
        public void synchronize() {
            EmulatedGpu.this.synchronize();
        }
    });

    /** A piece of issued work and what it is. */
    private record Work(String name, Runnable run) {
    }

    /** A device with {@code capacity} bytes of memory. */
    EmulatedGpu(long capacity) {
        this.capacity = capacity;
    }

    /** A CUDA backend over a fresh emulated device with 1 GiB of memory. */
    static CudaBackend backend(CudaBackend.Options options) {
        EmulatedGpu gpu = new EmulatedGpu(1L << 30);
        return new CudaBackend(options, gpu, gpu::dnn, gpu::blas);
    }

    private List<String> lastRecording = List.of();

    /** What the last recording kept holds, in order: a name per operation (a graph's nodes). */
    List<String> lastRecording() {
        return lastRecording;
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Region region(long address, long bytes) {
        Region b = last;
        if (b != null && b.holds(address, bytes)) return b;
        Map.Entry<Long, Region> e = blocks.floorEntry(address);
        if (e == null || !e.getValue().holds(address, bytes)) {
            String where = e == null ? "below every allocation"
                    : "at offset " + (address - e.getKey()) + " of the " + e.getValue().size() + "-byte allocation at 0x" + Long.toHexString(e.getKey());
            throw new IllegalStateException("a " + bytes + "-byte access at 0x" + Long.toHexString(address) + " lies outside device memory in use ("
                    + where + ")");
        }
        last = e.getValue(); // a hint shared by the blocks running in parallel: never read back here
        return e.getValue();
    }

    float[] floats(long address, int count) {
        Region b = region(address, 4L * count);
        float[] out = new float[count];
        b.data().slice((int) (address - b.start()), 4 * count).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    void put(long address, float[] values) {
        Region b = region(address, 4L * values.length);
        b.data().slice((int) (address - b.start()), 4 * values.length).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(values);
    }

    private void put(long address, int[] values) {
        Region b = region(address, 4L * values.length);
        b.data().slice((int) (address - b.start()), 4 * values.length).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(values);
    }

    /**
     * Two: enough for the blocks to run on two cores, and each grid-stride loop goes round more
     * than once wherever the work needs more than two blocks.
     */
    @Override
    public int maxBlocks() {
        return 2;
    }

    @Override
    public long[] memoryInfo() {
        return new long[] {capacity - used, capacity};
    }

    @Override
    public DevicePointer tryAllocate(long bytes) {
        if (bytes <= 0 || bytes > Integer.MAX_VALUE) throw new IllegalArgumentException("cuMemAlloc of " + bytes + " bytes");
        if (used + bytes > capacity) return null;
        ByteBuffer data = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        Arrays.fill(data.array(), NAN_BYTE); // NaN until written
        Region b = new Region(next, bytes, data);
        blocks.put(b.start(), b);
        next += (bytes + GAP + ALIGN - 1) / ALIGN * ALIGN;
        used += bytes;
        return new DevicePointer(b.start());
    }

    /** The block holds NaN again, as if new: a read of what its last owner left shows. */
    @Override
    public void reused(DevicePointer p, long bytes) {
        Region b = region(p.address(), bytes);
        int from = (int) (p.address() - b.start());
        Arrays.fill(b.data().array(), from, from + (int) bytes, NAN_BYTE);
    }

    @Override
    public void free(DevicePointer p) {
        Region b = blocks.remove(p.address());
        if (b == null) throw new IllegalArgumentException("cuMemFree(0x" + Long.toHexString(p.address()) + "): not an allocation");
        used -= b.size();
        if (last == b) last = null;
    }

    // ---------------------------------------------------------------- the stream

    /** Runs the work now, or records it while capturing. */
    void issue(String what, Runnable work) {
        if (recording != null) {
            recording.add(new Work(what, work));
        } else {
            work.run();
        }
    }

    private void refuseWhileCapturing(String what) {
        if (recording != null) throw new IllegalStateException(what + " inside a step recorded as a CUDA graph");
    }

    @Override
    public void copyToDevice(DevicePointer dst, float[] src) {
        refuseWhileCapturing("an upload from the host");
        put(dst.address(), src.clone());
    }

    @Override
    public void copyToDevice(DevicePointer dst, int[] src) {
        refuseWhileCapturing("an upload from the host");
        put(dst.address(), src.clone());
    }

    @Override
    public long deviceStagingBytes() {
        return 0; // uploads land directly
    }

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

    /** Bytes of page-locked host memory the downloads hold. */
    long pinnedBytes() {
        return downloads.heldBytes();
    }

    @Override
    public void copy(DevicePointer dst, DevicePointer src, long bytes) {
        long to = dst.address(), from = src.address();
        issue("memcpy", () -> {
            Region s = region(from, bytes), d = region(to, bytes);
            ByteBuffer values = s.data().slice((int) (from - s.start()), (int) bytes);
            d.data().put((int) (to - d.start()), values, 0, (int) bytes);
        });
    }

    @Override
    public void fill32(DevicePointer dst, int bits, long count) {
        long to = dst.address();
        issue("memset", () -> {
            int[] words = new int[(int) count];
            Arrays.fill(words, bits);
            put(to, words);
        });
    }

    @Override
    public void synchronize() {
        refuseWhileCapturing("waiting for the device");
        for (Runnable copy : landing) copy.run();
        landing.clear();
    }

    @Override
    public void loadModule(String file, String ptx, List<String> entries) {
        PtxInterpreter module = new PtxInterpreter(ptx);
        for (String entry : entries) {
            if (!module.hasKernel(entry)) throw new IllegalArgumentException("cuModuleGetFunction(" + file + ", " + entry + "): no such entry");
            kernels.put(entry, module);
        }
    }

    /** What a kernel's launches executed so far (see {@link PtxInterpreter.Counts}). */
    PtxInterpreter.Counts counts(String kernel) {
        PtxInterpreter module = kernels.get(kernel);
        if (module == null) throw new IllegalStateException("no kernel '" + kernel + "' is loaded");
        return module.counts(kernel);
    }

    @Override
    public void launch(String kernel, int blocks, int threads, int sharedBytes, Object... args) {
        PtxInterpreter module = kernels.get(kernel);
        if (module == null) throw new IllegalStateException("no kernel '" + kernel + "' is loaded");
        Object[] recorded = args.clone();
        issue(kernel, () -> module.launch(kernel, blocks, threads, sharedBytes, this, recorded));
    }

    @Override
    public void beginCapture() {
        if (recording != null) throw new IllegalStateException("already recording a graph");
        recording = new ArrayList<>();
    }

    @Override
    public Recording endCapture(boolean keep) {
        List<Work> work = List.copyOf(recording);
        recording = null;
        lastRecording = work.stream().map(Work::name).toList();
        if (!keep) return null;
        return new Recording() {
            private boolean closed;

            @Override
            public void launch() {
                if (closed) throw new IllegalStateException("the graph is closed");
                issue("graph", () -> {
                    for (Work w : work) w.run().run();
                });
            }

            @Override
            public void close() {
                closed = true;
            }
        };
    }

    @Override
    public boolean capturing() {
        return recording != null;
    }

    @Override
    public String description() {
        return "emulated GPU (PTX interpreter)";
    }

    /** Reports compute capability {@code major.minor} from now on (8.0 unless set: the 4 MiB cuBLAS workspace of small test devices). */
    EmulatedGpu computeCapability(int major, int minor) {
        computeCapability = new int[] {major, minor};
        return this;
    }

    @Override
    public int[] computeCapability() {
        return computeCapability.clone();
    }

    /** The workspace the backend last handed to cuBLAS, in bytes. */
    long cublasWorkspaceBytes() {
        return cublasWorkspaceBytes;
    }

    @Override
    public void makeCurrent() {
    }

    @Override
    public long streamAddress() {
        return 0x5EA4L;
    }

    @Override
    public void close() {
        downloads.close();
        blocks.clear();
        last = null;
    }

    // ---------------------------------------------------------------- cuBLAS

    Blas blas() {
        return new Blas() {
            @Override
            public String library() {
                return "emulated cuBLAS";
            }

            @Override
            public long version() {
                return 130000;
            }

            @Override
            public void useStream(long stream, long workspace, long workspaceBytes) {
                region(workspace, workspaceBytes);
                cublasWorkspaceBytes = workspaceBytes;
            }

            @Override
            public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long aAddress, int aColumns, long bAddress,
                             int bColumns, float beta, long cAddress) {
                issue("cublasSgemm", () -> {
                    float[] a = floats(aAddress, m * k), b = floats(bAddress, k * n), c = floats(cAddress, m * n);
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double sum = 0;
                            for (int l = 0; l < k; l++) {
                                sum += (double) (transA ? a[l * aColumns + i] : a[i * aColumns + l]) * (transB ? b[j * bColumns + l] : b[l * bColumns + j]);
                            }
                            c[i * n + j] = (float) (alpha * sum + (beta == 0 ? 0 : beta * c[i * n + j])); // beta 0: C is not read (it may be NaN)
                        }
                    }
                    put(cAddress, c);
                });
            }

            @Override
            public void close() {
            }
        };
    }

    // ---------------------------------------------------------------- cuDNN

    /** Bytes of workspace the emulated algorithm 0 asks for, per direction, so that the backend's workspace handling runs. */
    static final long WORKSPACE = 4096;

    Dnn dnn() {
        return dnn(Dnn.Layout.NCHW);
    }

    /**
     * cuDNN with every tensor and filter in {@code layout}: an NHWC tensor (n, c, h, w) is stored
     * as (n, h, w, c) and an NHWC filter (k, c, r, s) as (k, r, s, c), as cudnnTensorFormat_t says.
     * Operands are read into NCHW order, computed as in NCHW, and written back in the layout.
     */
    Dnn dnn(Dnn.Layout layout) {
        return new Dnn() {
            @Override
            public void useStream(long stream) {
            }

            @Override
            public Layout layout() {
                return layout;
            }

            @Override
            public long version() {
                return 91400;
            }

            @Override
            public String library() {
                return "emulated cuDNN";
            }

            @Override
            public Choice choose(ConvGeometry g, int n, Direction d, int mathType, long workspaceLimit, boolean deterministic) {
                return workspaceLimit >= WORKSPACE ? new Choice(0, mathType, WORKSPACE) : new Choice(1, mathType, 0);
            }

            @Override
            public Choice chooseWithoutSearch(ConvGeometry g, int n, Direction d, int mathType, boolean deterministic) {
                return new Choice(1, mathType, 0);
            }

            private void workspace(Choice c, long workspace) {
                if (c.workspace() > 0) region(workspace, c.workspace()); // the algorithm's workspace must be there
            }

            /** An (a, b, c, d) tensor or filter, read in NCHW order. */
            private float[] read(long address, int a, int b, int c, int d) {
                return nchw(layout, floats(address, a * b * c * d), a, b, c, d);
            }

            /** Writes an (a, b, c, d) tensor given in NCHW order in the layout. */
            private void write(long address, float[] values, int a, int b, int c, int d) {
                put(address, inLayout(layout, values, a, b, c, d));
            }

            @Override
            public void convolutionForward(ConvGeometry g, int n, Choice c, long x, long w, long y, long workspace) {
                issue("cudnn convolutionForward", () -> {
                    workspace(c, workspace);
                    write(y, convolve(g, n, c, read(x, n, g.c(), g.h(), g.w()), read(w, g.k(), g.c(), g.r(), g.s()), 0, false), n, g.k(), g.p(), g.q());
                });
            }

            @Override
            public void convolutionBiasReluForward(ConvGeometry g, int n, Choice c, long x, long w, long b, long y, long workspace) {
                issue("cudnn convolutionBiasReluForward", () -> {
                    workspace(c, workspace);
                    // cuDNN's act(alpha1·conv + alpha2·z + b) with z = y, alpha2 = 0: z is read, and 0·NaN is NaN
                    float[] z = read(y, n, g.k(), g.p(), g.q()), out = convolve(g, n, c, read(x, n, g.c(), g.h(), g.w()),
                            read(w, g.k(), g.c(), g.r(), g.s()), b, true);
                    for (int i = 0; i < out.length; i++) out[i] += 0f * z[i];
                    write(y, out, n, g.k(), g.p(), g.q());
                });
            }

            @Override
            public void convolutionBackwardData(ConvGeometry g, int n, Choice c, long w, long dy, long dx, long workspace) {
                issue("cudnn convolutionBackwardData", () -> {
                    workspace(c, workspace);
                    float[] filters = tf32(c, read(w, g.k(), g.c(), g.r(), g.s())), grad = tf32(c, read(dy, n, g.k(), g.p(), g.q()));
                    double[] out = new double[n * g.c() * g.h() * g.w()];
                    taps(g, n, Pass.DATA, null, filters, grad, out);
                    write(dx, rounded(out), n, g.c(), g.h(), g.w());
                });
            }

            @Override
            public void convolutionBackwardFilter(ConvGeometry g, int n, Choice c, long x, long dy, long dw, long workspace) {
                issue("cudnn convolutionBackwardFilter", () -> {
                    workspace(c, workspace);
                    float[] in = tf32(c, read(x, n, g.c(), g.h(), g.w())), grad = tf32(c, read(dy, n, g.k(), g.p(), g.q()));
                    float[] old = read(dw, g.k(), g.c(), g.r(), g.s());
                    double[] sum = new double[old.length];
                    taps(g, n, Pass.FILTER, in, null, grad, sum);
                    for (int i = 0; i < old.length; i++) sum[i] += old[i]; // beta 1: accumulate
                    write(dw, rounded(sum), g.k(), g.c(), g.r(), g.s());
                });
            }

            /** The channel of element i of a tensor of this shape with k channels. */
            private int channel(Shape s, int k, int i) {
                return layout == Layout.NHWC ? i % k : i / (s.size() / s.dim(0) / k) % k;
            }

            @Override
            public void addBias(Shape y, long yAddress, int k, long b) {
                issue("cudnn addBias", () -> {
                    float[] values = floats(yAddress, y.size()), bias = floats(b, k);
                    for (int i = 0; i < values.length; i++) values[i] += bias[channel(y, k, i)];
                    put(yAddress, values);
                });
            }

            @Override
            public void biasBackward(Shape dy, long dyAddress, int k, long db) {
                issue("cudnn biasBackward", () -> {
                    float[] grad = floats(dyAddress, dy.size()), old = floats(db, k);
                    double[] sum = new double[k];
                    for (int i = 0; i < grad.length; i++) sum[channel(dy, k, i)] += grad[i];
                    for (int i = 0; i < k; i++) sum[i] += old[i];
                    put(db, rounded(sum));
                });
            }
            @Override
            public void softmaxForward(Shape s, long x, long y) {
                issue("cudnn softmaxForward", () -> {
                    int rows = s.dim(0), cols = s.size() / rows;
                    float[] in = floats(x, s.size()), out = new float[in.length];
                    for (int r = 0; r < rows; r++) {
                        double max = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int j = 0; j < cols; j++) max = Math.max(max, in[r * cols + j]);
                        for (int j = 0; j < cols; j++) sum += Math.exp(in[r * cols + j] - max);
                        for (int j = 0; j < cols; j++) out[r * cols + j] = (float) (Math.exp(in[r * cols + j] - max) / sum);
                    }
                    put(y, out);
                });
            }

            @Override
            public void softmaxBackward(Shape s, long y, long dy, long dx) {
                issue("cudnn softmaxBackward", () -> {
                    int rows = s.dim(0), cols = s.size() / rows;
                    float[] out = floats(y, s.size()), grad = floats(dy, s.size()), result = new float[out.length];
                    for (int r = 0; r < rows; r++) {
                        double dot = 0;
                        for (int j = 0; j < cols; j++) dot += (double) grad[r * cols + j] * out[r * cols + j];
                        for (int j = 0; j < cols; j++) result[r * cols + j] = (float) (out[r * cols + j] * (grad[r * cols + j] - dot));
                    }
                    put(dx, result);
                });
            }

            @Override
            public void close() {
            }
        };
    }

    private enum Pass { FORWARD, DATA, FILTER }

    /**
     * One pass of a cross-correlation over every (input, filter, output) tap, padding taps left
     * out, summed in double into {@code out}: y for FORWARD (from x and w), x for DATA (from w and
     * dy), w for FILTER (from x and dy). Images run in parallel for FORWARD and DATA, filters for
     * FILTER, so that no two threads add into the same element.
     */
    private static void taps(ConvGeometry g, int n, Pass pass, float[] x, float[] w, float[] y, double[] out) {
        if (pass == Pass.FILTER) {
            java.util.stream.IntStream.range(0, g.k()).parallel().forEach(k -> {
                for (int b = 0; b < n; b++) taps(g, pass, b, k, x, w, y, out);
            });
        } else {
            java.util.stream.IntStream.range(0, n).parallel().forEach(b -> {
                for (int k = 0; k < g.k(); k++) taps(g, pass, b, k, x, w, y, out);
            });
        }
    }

    private static void taps(ConvGeometry g, Pass pass, int b, int k, float[] x, float[] w, float[] y, double[] out) {
        int p = g.p(), q = g.q();
        for (int c = 0; c < g.c(); c++) {
            for (int r = 0; r < g.r(); r++) {
                for (int s = 0; s < g.s(); s++) {
                    int wi = ((k * g.c() + c) * g.r() + r) * g.s() + s;
                    double filter = w == null ? 0 : w[wi], sum = 0;
                    for (int i = 0; i < p; i++) {
                        int ih = i * g.strideH() - g.padH() + r * g.dilationH();
                        if (ih < 0 || ih >= g.h()) continue;
                        int xRow = ((b * g.c() + c) * g.h() + ih) * g.w(), yRow = ((b * g.k() + k) * p + i) * q;
                        for (int j = 0; j < q; j++) {
                            int iw = j * g.strideW() - g.padW() + s * g.dilationW();
                            if (iw < 0 || iw >= g.w()) continue;
                            switch (pass) {
                                case FORWARD -> out[yRow + j] += x[xRow + iw] * filter;
                                case DATA -> out[xRow + iw] += filter * y[yRow + j];
                                case FILTER -> sum += (double) x[xRow + iw] * y[yRow + j];
                            }
                        }
                    }
                    if (pass == Pass.FILTER) out[wi] += sum;
                }
            }
        }
    }

    /** y = conv(x, w), or max(conv(x, w) + b, 0), on NCHW arrays. */
    private float[] convolve(ConvGeometry g, int n, Dnn.Choice c, float[] x, float[] w, long b, boolean biasRelu) {
        float[] in = tf32(c, x), filters = tf32(c, w);
        double[] out = new double[n * g.k() * g.p() * g.q()];
        taps(g, n, Pass.FORWARD, in, filters, null, out);
        if (biasRelu) {
            float[] bias = floats(b, g.k());
            int spatial = g.p() * g.q();
            // CUDNN_PROPAGATE_NAN: a NaN stays NaN (Math.max keeps it)
            for (int i = 0; i < out.length; i++) out[i] = Math.max(0, out[i] + bias[i / spatial % g.k()]);
        }
        return rounded(out);
    }

    /**
     * An (n, c, h, w) tensor or (k, c, r, s) filter stored in {@code layout}, in NCHW order: in
     * NHWC the channel is the fastest-moving index, element (i, j, y, x) at ((i·h + y)·w + x)·c + j.
     */
    static float[] nchw(Dnn.Layout layout, float[] stored, int n, int c, int h, int w) {
        return layout == Dnn.Layout.NCHW ? stored : reorder(stored, n, c, h, w, false);
    }

    /** The inverse of {@link #nchw}. */
    static float[] inLayout(Dnn.Layout layout, float[] nchw, int n, int c, int h, int w) {
        return layout == Dnn.Layout.NCHW ? nchw : reorder(nchw, n, c, h, w, true);
    }

    private static float[] reorder(float[] from, int n, int c, int h, int w, boolean toNhwc) {
        float[] out = new float[from.length];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        int nchw = ((i * c + j) * h + y) * w + x, nhwc = ((i * h + y) * w + x) * c + j;
                        out[toNhwc ? nhwc : nchw] = from[toNhwc ? nchw : nhwc];
                    }
        return out;
    }

    /** With tensor cores allowed, inputs keep 10 mantissa bits (TF32, rounded to nearest), as on an Ampere or newer GPU. */
    private static float[] tf32(Dnn.Choice c, float[] values) {
        if (c.mathType() != Dnn.DEFAULT_MATH) return values;
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            int bits = Float.floatToRawIntBits(values[i]);
            out[i] = Float.isFinite(values[i]) ? Float.intBitsToFloat((bits + 0x1000) & 0xFFFFE000) : values[i];
        }
        return out;
    }

    private static float[] rounded(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) out[i] = (float) values[i];
        return out;
    }
}
