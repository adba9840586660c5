package org.cnn4j.backend.cuda;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Backend;
import org.cnn4j.backend.Check;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.FloatTensor;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NVIDIA GPU backend: tensors in device memory (a caching allocator), convolutions and softmax
 * through cuDNN, dense products through cuBLAS SGEMM, and everything else through the handwritten
 * PTX kernels of {@code native-kernels/} ({@link Kernels}). Parameters, activations, gradients and
 * optimizer state stay on the device; only batches go up and losses, metrics and predictions come
 * down. The feature-map combinations and the squared error, small and rare, run on the host.
 *
 * <p>This class holds the device (context, stream, memory, loaded kernels, cuDNN and cuBLAS
 * handles), the core operations (memory, GEMM, element-wise, losses, step records, graphs) and the
 * plumbing the families share; each family of operations is a class of its own:
 * {@link CudaConvolutionOps} (cuDNN, its algorithm search and workspace), {@link CudaPoolingOps},
 * {@link CudaNormalizationOps}, {@link CudaFeatureMapOps} and {@link CudaOptimizerOps}.
 *
 * <p>Math: convolutions may use TF32 tensor cores ({@link Options#tf32}, the default, as PyTorch);
 * {@code tf32 = false} keeps them strict float32 (cuDNN FMA math). Dense layers are always strict
 * float32. {@link Options#deterministic} restricts cuDNN to deterministic algorithms.
 */
public final class CudaBackend implements Backend {
    private static final Logger log = LoggerFactory.getLogger(CudaBackend.class);
    static final int THREADS = 256;
    /**
     * The workspace handed to cuBLAS for a device of compute capability {@code major.minor}: 32 MiB
     * from 9.0 (Hopper) on, 4 MiB below, as cuBLAS recommends for each.
     */
    static long cublasWorkspaceBytes(int major, int minor) {
        return major >= 9 ? 32L << 20 : 4L << 20;
    }

    /**
     * @param workspaceLimit the most bytes of cuDNN workspace one convolution may use (one buffer, shared)
     */
    public record Options(int device, boolean tf32, boolean deterministic, long workspaceLimit) {
        public static Options defaults() {
            return new Options(0, true, false, 1L << 30);
        }

        public Options strictFloat32() {
            return new Options(device, false, deterministic, workspaceLimit);
        }

        public Options deterministic(boolean on) {
            return new Options(device, tf32, on, workspaceLimit);
        }

        /** On GPU {@code ordinal} (the driver's numbering; data-parallel processes take their local rank). */
        public Options device(int ordinal) {
            if (ordinal < 0) throw new IllegalArgumentException("a GPU's number is at least 0, got " + ordinal);
            return new Options(ordinal, tf32, deterministic, workspaceLimit);
        }
    }

    final Options options;
    final GpuDriver driver;
    DeviceMemory memory;
    Dnn cudnn;
    private Blas cublas;
    private DevicePointer status, cublasWorkspace;
    DevicePointer partials;
    /**
     * Doubles in {@link #partials} (1 MiB): per-block sums of reductions split over many blocks, and
     * the per-plane sums that backward passes leave for the bias gradient of the convolution below.
     */
    static final int PARTIAL_DOUBLES = 1 << 17, PARTIAL_PAIRS = PARTIAL_DOUBLES / 2;


    private long cublasWorkspaceBytes;
    /** Clearing the gradients and the SGD update as one launch each over a chunk table (-Dcnn4j.multiTensor=false: a launch per tensor). */
    static final boolean MULTI_TENSOR = !"false".equals(System.getProperty("cnn4j.multiTensor"));
    /**
     * Pooling backward passes over non-overlapping windows by output cells, and the warp-per-plane
     * kernels that leave a convolution's bias gradient summed by plane (-Dcnn4j.poolCells=false: the
     * general gathers, the element-wise activation backward, cuDNN's bias gradient).
     */
    boolean poolCells = !"false".equals(System.getProperty("cnn4j.poolCells"));
    /** Chunk tables by contents, least recently used first; at most {@link #CHUNK_TABLES}. */
    private final Map<ChunkTables.Key, ChunkTable> tables = new LinkedHashMap<>(16, 0.75f, true);
    static final int CHUNK_TABLES = 64;
    CpuBackend host;
    private final ThreadLocal<Boolean> contextCurrent = ThreadLocal.withInitial(() -> false);
    private boolean closed;
    private final CudaConvolutionOps convolution = new CudaConvolutionOps(this);
    private final CudaPoolingOps pooling = new CudaPoolingOps(this);
    private final Families families = new Families(convolution, pooling, new CudaNormalizationOps(this), new CudaFeatureMapOps(this),
            new CudaOptimizerOps(this));

    /**
     * Opens the GPU. Fails with UnsatisfiedLinkError when there is no CUDA driver (libcuda) or JCuda
     * cannot load, and with CudaException when there is no device or cuDNN/cuBLAS is missing; the
     * message says what was tried.
     */
    public static CudaBackend open(Options options) {
        return new CudaBackend(options, new CudaDriver(options.device()), () -> new Cudnn(cudnnLibrary()),
                () -> new Cublas(cublasLibrary()));
    }

    /**
     * cuDNN 9's sub-libraries that it loads itself at run time, in the order they depend on each
     * other: a libcudnn.so.9 found in a folder (a Python wheel's, say) must have them beside it.
     */
    static final List<String> CUDNN9_PARTS = List.of("libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_heuristic.so.9",
            "libcudnn_ops.so.9", "libcudnn_cnn.so.9");

    /**
     * libcudnn: the file -Dcnn4j.cudnn or CNN4J_CUDNN names, else version 9 or 8 where the loader and
     * CUDA look, else in a Python environment's NVIDIA wheels.
     */
    static NativeLibrary cudnnLibrary() {
        return NativeLibrary.open("cuDNN", "cnn4j.cudnn", "CNN4J_CUDNN", List.of("libcudnn.so.9", "libcudnn.so.8"),
                Map.of("libcudnn.so.9", CUDNN9_PARTS), NativeLibrary.wheelFolders());
    }

    /** libcublas: as {@link #cudnnLibrary}, version 13 or 12, with its libcublasLt beside it when found in a folder. */
    static NativeLibrary cublasLibrary() {
        return NativeLibrary.open("cuBLAS", "cnn4j.cublas", "CNN4J_CUBLAS", List.of("libcublas.so.13", "libcublas.so.12"),
                Map.of("libcublas.so.13", List.of("libcublasLt.so.13"), "libcublas.so.12", List.of("libcublasLt.so.12")), NativeLibrary.wheelFolders());
    }

    /** Over a given driver and libraries, opened in this order (the tests pass an emulator's). */
    CudaBackend(Options options, GpuDriver driver, Supplier<Dnn> dnn, Supplier<Blas> blas) {
        this.options = options;
        this.driver = driver;
        try {
            contextCurrent.set(true);
            memory = new DeviceMemory(driver);
            for (Map.Entry<String, List<String>> e : Kernels.ENTRIES.entrySet()) {
                driver.loadModule(e.getKey(), Kernels.source(e.getKey()), e.getValue());
            }
            cudnn = dnn.get();
            if (cudnn.layout() != Dnn.Layout.NCHW) throw new IllegalArgumentException("the CUDA backend keeps its tensors in NCHW, not " + cudnn.layout());
            cublas = blas.get();
            cudnn.useStream(driver.streamAddress());
            status = memory.allocate(4, "the loss's label check");
            partials = memory.allocate(8L * PARTIAL_DOUBLES, "partial sums of split reductions");
            int[] cc = driver.computeCapability();
            cublasWorkspaceBytes = cublasWorkspaceBytes(cc[0], cc[1]);
            cublasWorkspace = memory.allocate(cublasWorkspaceBytes, "cuBLAS's workspace");
            cublas.useStream(driver.streamAddress(), cublasWorkspace.address(), cublasWorkspaceBytes);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
        log.info("CUDA backend on {}: cuDNN {} ({}), cuBLAS ({}), convolutions {}{}", driver.description(), cudnn.version(), cudnn.library(),
                cublas.library(), options.tf32() ? "TF32 allowed" : "strict float32", options.deterministic() ? ", deterministic" : "");
    }

    /**
     * What this backend runs on, a line each: the device (name, compute capability, memory), the
     * CUDA driver and its file, cuDNN's and cuBLAS's versions and the files they were loaded from,
     * and NCCL's (for data-parallel training on several GPUs), or why it cannot be loaded.
     */
    public List<String> describe() {
        current();
        long[] memory = driver.memoryInfo();
        int[] cc = driver.computeCapability();
        return List.of(
                String.format(Locale.ROOT, "%s, compute capability %d.%d, %.1f GiB of memory (%.1f GiB free)", driver.description(), cc[0], cc[1],
                        memory[1] / (double) (1L << 30), memory[0] / (double) (1L << 30)),
                "CUDA driver: " + NativeLibrary.mapped("libcuda.so").map(Object::toString).orElse("libcuda not mapped (an emulated device)"),
                "cuDNN " + versionText(cudnn.version(), cudnn.version() >= 90000 ? 10000 : 1000) + ": " + cudnn.library(),
                "cuBLAS " + versionText(cublas.version(), 10000) + ": " + cublas.library(),
                Nccl.describe());
    }

    /** 91400 → "9.14.0" (major·10000 + minor·100 + patch; cuDNN 8 has major·1000). */
    static String versionText(long version, long majorUnit) {
        return version / majorUnit + "." + version % majorUnit / 100 + "." + version % 100;
    }

    @Override
    public String name() {
        return "cuda(" + driver.description() + ")";
    }

    @Override
    public DType precision() {
        return DType.FLOAT32;
    }

    public Options options() {
        return options;
    }

    /**
     * Bytes of device memory in tensors now, and at most so far (the caching allocator's view),
     * each with the driver's upload staging buffers added (device memory cnn4j holds, as PyTorch's
     * max_memory_allocated counts what its allocator holds).
     */
    public long memoryInUse() {
        return memory.inUse() + driver.deviceStagingBytes();
    }

    public long peakMemory() {
        return memory.peak() + driver.deviceStagingBytes();
    }

    /** Starts {@link #peakMemory} over from the bytes in use now (as torch.cuda.reset_peak_memory_stats). */
    public void resetPeakMemory() {
        memory.resetPeak();
    }

    @Override
    public Families families() {
        return families;
    }

    /** cuDNN's name of the algorithm this backend runs for a convolution pass at batch {@code n}, e.g. in a test's message. */
    String convolutionAlgorithm(ConvGeometry g, int n, Dnn.Direction d) {
        return convolution.algorithmName(g, n, d);
    }

    /** Convolution, bias and ReLU in one cuDNN call where allowed (see {@link CudaConvolutionOps}). */
    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, Tensor b, Activation f, ConvGeometry g) {
        convolution.convForward(y, x, w, b, f, g);
    }

    /** The gather and, with reluOutput (else null), the ReLU's backward in one kernel. */
    @Override
    public void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        pooling.maxPoolBackward(dx, null, dy, mask, reluOutput, g);
    }

    /** As the five-argument form, and db from the per-plane sums that the cell kernel leaves (see {@link CudaPoolingOps}). */
    @Override
    public void maxPoolBackward(Tensor dx, Tensor db, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        pooling.maxPoolBackward(dx, db, dy, mask, reluOutput, g);
    }

    // ---------------------------------------------------------------- plumbing

    /** The calling thread needs the device's context current before any driver call. */
    void current() {
        if (closed) throw new IllegalStateException(name() + " is closed");
        if (!contextCurrent.get()) {
            driver.makeCurrent();
            contextCurrent.set(true);
        }
    }

    CudaTensor t(Tensor t, String op, String arg) {
        if (t instanceof CudaTensor c && c.backend() == this) return c;
        throw new IllegalArgumentException(op + ": " + arg + " must be a tensor of " + name() + ", got "
                + (t == null ? "null" : t + " of " + t.backend().name()));
    }

    long a(Tensor x, String op, String arg) {
        return t(x, op, arg).address();
    }

    void launch(String kernel, long work, Object... args) {
        if (work <= 0) return;
        int blocks = (int) Math.min((work + THREADS - 1) / THREADS, driver.maxBlocks());
        driver.launch(kernel, blocks, THREADS, 0, args);
    }

    private CudaTensor create(Shape shape, DType dtype) {
        current();
        long bytes = 4L * shape.size();
        DevicePointer p = memory.allocate(bytes, "a " + dtype + " tensor " + shape);
        return new CudaTensor(this, shape, dtype, new CudaTensor.Storage(p, bytes));
    }

    void release(CudaTensor t) {
        CudaTensor.Storage s = t.storage();
        if (s.released || closed) return;
        s.released = true;
        memory.release(s.pointer, s.bytes);
    }

    /** A host copy on a private CPU backend, for the operations that run on the host. */
    FloatTensor onHost(Tensor x) {
        if (host == null) host = new CpuBackend(1);
        return host.upload(x.shape(), downloadFloats(x));
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor allocate(Shape shape) {
        CudaTensor t = create(shape, DType.FLOAT32);
        if (shape.size() > 0) driver.fill32(t.pointer(), 0, shape.size());
        return t;
    }

    @Override
    public Tensor allocateInts(Shape shape) {
        CudaTensor t = create(shape, DType.INT32);
        if (shape.size() > 0) driver.fill32(t.pointer(), 0, shape.size());
        return t;
    }

    @Override
    public Tensor upload(Shape shape, float[] values) {
        if (values.length != shape.size()) throw new IllegalArgumentException("upload: " + values.length + " values for shape " + shape);
        CudaTensor t = create(shape, DType.FLOAT32);
        driver.copyToDevice(t.pointer(), values);
        return t;
    }

    @Override
    public Tensor upload(Shape shape, double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        return upload(shape, f);
    }

    @Override
    public Tensor uploadInts(Shape shape, int[] values) {
        if (values.length != shape.size()) throw new IllegalArgumentException("uploadInts: " + values.length + " values for shape " + shape);
        CudaTensor t = create(shape, DType.INT32);
        driver.copyToDevice(t.pointer(), values);
        return t;
    }

    @Override
    public void write(Tensor dst, float[] values) {
        current();
        CudaTensor d = t(dst, "write", "dst");
        if (values.length != d.size()) throw new IllegalArgumentException("write: " + values.length + " values for a tensor of shape " + d.shape());
        driver.copyToDevice(d.pointer(), values);
    }

    @Override
    public void writeInts(Tensor dst, int[] values) {
        current();
        CudaTensor d = t(dst, "writeInts", "dst");
        if (values.length != d.size()) throw new IllegalArgumentException("writeInts: " + values.length + " values for a tensor of shape " + d.shape());
        driver.copyToDevice(d.pointer(), values);
    }

    @Override
    public float[] downloadFloats(Tensor x) {
        current();
        CudaTensor d = t(x, "download", "x");
        if (d.dtype() == DType.INT32) {
            int[] ints = downloadInts(x);
            float[] f = new float[ints.length];
            for (int i = 0; i < f.length; i++) f[i] = ints[i];
            return f;
        }
        float[] out = new float[d.size()];
        driver.copyToHost(out, d.pointer());
        return out;
    }

    @Override
    public double[] downloadDoubles(Tensor x) {
        float[] f = downloadFloats(x);
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }

    @Override
    public int[] downloadInts(Tensor x) {
        current();
        CudaTensor d = t(x, "downloadInts", "x");
        Check.dtype("downloadInts", "x", d, DType.INT32);
        int[] out = new int[d.size()];
        driver.copyToHost(out, d.pointer());
        return out;
    }

    @Override
    public void fill(Tensor y, double value) {
        current();
        launch("fill", y.size(), t(y, "fill", "y").pointer(), y.size(), (float) value);
    }

    /** All the tensors in one launch over a chunk table (one per distinct list, kept on the device). */
    @Override
    public void fill(List<Tensor> ys, double value) {
        if (!MULTI_TENSOR || ys.stream().anyMatch(y -> y.dtype() != DType.FLOAT32)) {
            Backend.super.fill(ys, value);
            return;
        }
        current();
        long[][] fields = new long[ys.size()][];
        long[] sizes = new long[ys.size()];
        for (int i = 0; i < ys.size(); i++) {
            fields[i] = new long[] {a(ys.get(i), "fill", "y")};
            sizes[i] = ys.get(i).size();
        }
        ChunkTable t = table(ChunkTables.chunks(fields, sizes), 3);
        if (t.chunks() > 0) driver.launch("fill_chunks", t.chunks(), THREADS, 0, t.pointer(), (float) value);
    }

    @Override
    public void copy(Tensor y, Tensor x) {
        current();
        Check.sameSize("copy", "y", y, x);
        driver.copy(t(y, "copy", "y").pointer(), t(x, "copy", "x").pointer(), 4L * x.size());
    }

    @Override
    public void add(Tensor y, Tensor a, Tensor b) {
        current();
        Check.sameSize("add", "a", a, y);
        Check.sameSize("add", "b", b, y);
        launch("add", y.size(), t(y, "add", "y").pointer(), t(a, "add", "a").pointer(), t(b, "add", "b").pointer(), y.size());
    }

    @Override
    public void copyChannels(Tensor y, Tensor x, int offset, boolean extract) {
        current();
        int[] g = Check.channels("copyChannels", y, x, offset);
        launch("copy_channels", x.size(), t(y, "copyChannels", "y").pointer(), t(x, "copyChannels", "x").pointer(),
                x.size(), g[1], g[2], g[3], offset, extract ? 1 : 0);
    }

    @Override
    public void padPlanes(Tensor y, Tensor x, int top, int left, boolean crop) {
        current();
        int[] g = Check.planes("padPlanes", y, x, top, left);
        launch("pad_planes", y.size(), t(y, "padPlanes", "y").pointer(), t(x, "padPlanes", "x").pointer(), y.size(), g[1], g[2], g[3], g[4],
                top, left, crop ? 1 : 0);
    }

    // ---------------------------------------------------------------- normalisation (normalization.ptx)

    @Override
    public double sum(Tensor x) {
        double total = 0;
        for (float v : downloadFloats(x)) total += v;
        return total;
    }

    // ---------------------------------------------------------------- convolution

    // ---------------------------------------------------------------- pooling and subsampling

    static Object[] sizes(int planes, PoolGeometry g) {
        return new Object[] {planes, g.h(), g.w(), g.p(), g.q(), g.windowH(), g.windowW(), g.strideH(), g.strideW(), g.padH(), g.padW()};
    }

    /**
     * {@link #sizes} with each window's span (dilation·(window − 1) + 1) for its size: the outputs
     * whose windows reach an input, for a gather that keeps those whose mask points at it.
     */
    static Object[] spans(int planes, PoolGeometry g) {
        return new Object[] {planes, g.h(), g.w(), g.p(), g.q(), g.spanH(), g.spanW(), g.strideH(), g.strideW(), g.padH(), g.padW()};
    }

    static Object[] args(Object[] head, Object[] sizes, Object... tail) {
        Object[] all = new Object[head.length + sizes.length + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(sizes, 0, all, head.length, sizes.length);
        System.arraycopy(tail, 0, all, head.length + sizes.length, tail.length);
        return all;
    }

    /** Turns the cell and plane kernels on or off (the tests run both kinds of kernel on the same data). */
    void usePoolCells(boolean on) {
        poolCells = on;
    }

    /** Whether no input lies in two windows and none is padding: each input then has one output to look at, or none. */
    static boolean disjoint(PoolGeometry g) {
        return g.unpadded() && g.undilated() && g.strideH() >= g.windowH() && g.strideW() >= g.windowW() && g.windowsInside();
    }

    /** dx = dy·scale, or dy·β(channel), spread over each window, for windows that do not overlap: one thread per output. */
    void spreadCells(DevicePointer dx, DevicePointer dy, DevicePointer beta, int planes, PoolGeometry g, float scale) {
        launch("spread_cells", (long) planes * g.p() * g.q(), dx, dy, beta, planes, g.h(), g.w(), g.p(), g.q(), g.windowH(), g.windowW(),
                g.strideH(), g.strideW(), scale, g.c());
    }

    // ---------------------------------------------------------------- dense algebra

    @Override
    public void gemm(boolean transA, boolean transB, double alpha, Tensor a, Tensor b, double beta, Tensor c) {
        current();
        int[] mnk = Check.gemm(a, transA, b, transB, c);
        cublas.gemm(transA, transB, mnk[0], mnk[1], mnk[2], (float) alpha, a(a, "gemm", "a"), a.shape().columns(), a(b, "gemm", "b"),
                b.shape().columns(), (float) beta, a(c, "gemm", "c"));
    }

    // ---------------------------------------------------------------- elementwise

    @Override
    public void activationForward(Activation f, Tensor y, Tensor x) {
        current();
        Check.sameSize("activationForward", "y", y, x);
        launch("activation_forward", x.size(), t(y, "activationForward", "y").pointer(), t(x, "activationForward", "x").pointer(), x.size(),
                f.kind().ordinal(), (float) f.slope());
    }

    /** One kernel: bias and activation in one pass over y. */
    @Override
    public void biasActivation(Tensor y, Tensor b, Activation f) {
        current();
        if (b != null) CudaConvolutionOps.biasShape("biasActivation", y, b);
        int channels = b != null ? b.size() : y.shape().dim(1);
        int spatial = y.size() / y.shape().dim(0) / channels;
        launch("bias_activation", y.size(), t(y, "biasActivation", "y").pointer(), b == null ? null : t(b, "biasActivation", "b").pointer(),
                y.size(), channels, spatial, f.kind().ordinal(), (float) f.slope());
    }

    @Override
    public void activationBackward(Activation f, Tensor dx, Tensor dy, Tensor x, Tensor y) {
        activationBackward(f, dx, null, dy, x, y);
    }

    /**
     * With db, and dx of (n, c, h, w) planes small enough, a warp per plane that also sums each plane
     * of dx, then one small kernel that adds the sums per channel into db: the bias gradient without
     * another pass over dx.
     */
    @Override
    public void activationBackward(Activation f, Tensor dx, Tensor db, Tensor dy, Tensor x, Tensor y) {
        current();
        Check.sameSize("activationBackward", "dx", dx, x);
        Check.sameSize("activationBackward", "dy", dy, x);
        Check.sameSize("activationBackward", "y", y, x);
        if (db != null) CudaConvolutionOps.biasShape("activationBackward", dx, db);
        DevicePointer dxp = t(dx, "activationBackward", "dx").pointer(), dyp = t(dy, "activationBackward", "dy").pointer();
        DevicePointer xp = t(x, "activationBackward", "x").pointer(), yp = t(y, "activationBackward", "y").pointer();
        Shape s = dx.shape();
        long planes = s.rank() == 4 ? (long) s.dim(0) * s.dim(1) : 0, hw = s.rank() == 4 ? (long) s.dim(2) * s.dim(3) : 0;
        if (db != null && warpPerPlane(planes, hw)) {
            summingPlanes("activation_backward_planes", (int) planes, dxp, dyp, xp, yp, (int) planes, (int) hw, f.kind().ordinal(), (float) f.slope(), partials);
            planeSumsToBias(db, s);
        } else {
            launch("activation_backward", x.size(), dxp, dyp, xp, yp, x.size(), f.kind().ordinal(), (float) f.slope());
            if (db != null) biasBackward(db, dx);
        }
    }

    @Override
    public boolean biasGradientWithActivation() {
        return true;
    }

    /** db(c) += the per-plane sums a warp-per-plane kernel just left in {@link #partials}, for dx of shape s (n, c, h, w). */
    void planeSumsToBias(Tensor db, Shape s) {
        launch("plane_sums_to_bias", db.size(), a(db, "biasBackward", "db"), partials, s.dim(0), db.size());
    }

    /**
     * Launches a warp-per-plane kernel (blocks of 256 threads, eight planes each, grid-stride over
     * groups) that writes dx and leaves its planes' sums in {@link #partials}, for
     * {@link #planeSumsToBias} to add into a bias gradient right after.
     */
    void summingPlanes(String kernel, int planes, Object... args) {
        driver.launch(kernel, Math.min((planes + 7) / 8, driver.maxBlocks()), 256, 0, args);
    }

    /**
     * Whether planes × hw values go a warp per plane (the kernels that also sum each plane): planes
     * that fit {@link #partials}, and no more than 2,048 values a plane, 64 for each lane (a few
     * large planes would leave the GPU to a few warps).
     */
    boolean warpPerPlane(long planes, long hw) {
        return poolCells && planes > 0 && planes <= PARTIAL_DOUBLES && hw <= 2048;
    }

    @Override
    public void softmaxForward(Tensor y, Tensor x) {
        current();
        int n = Check.rowsOf("softmaxForward", "x", x);
        Check.sameSize("softmaxForward", "y", y, x);
        cudnn.softmaxForward(Shape.of(n, x.shape().columns()), a(x, "softmaxForward", "x"), a(y, "softmaxForward", "y"));
    }

    @Override
    public void softmaxBackward(Tensor dx, Tensor dy, Tensor y) {
        current();
        int n = Check.rowsOf("softmaxBackward", "y", y);
        Check.sameSize("softmaxBackward", "dx", dx, y);
        Check.sameSize("softmaxBackward", "dy", dy, y);
        cudnn.softmaxBackward(Shape.of(n, y.shape().columns()), a(y, "softmaxBackward", "y"), a(dy, "softmaxBackward", "dy"),
                a(dx, "softmaxBackward", "dx"));
    }

    @Override
    public void dropoutForward(Tensor y, Tensor mask, Tensor x, double p, long seed) {
        current();
        Check.sameSize("dropoutForward", "y", y, x);
        Check.sameSize("dropoutForward", "mask", mask, x);
        launch("dropout_forward", x.size(), t(y, "dropoutForward", "y").pointer(), t(mask, "dropoutForward", "mask").pointer(),
                t(x, "dropoutForward", "x").pointer(), x.size(), seed, (float) p, (float) (1 / (1 - p)));
    }

    @Override
    public void dropoutBackward(Tensor dx, Tensor dy, Tensor mask) {
        current();
        Check.sameSize("dropoutBackward", "dx", dx, dy);
        Check.sameSize("dropoutBackward", "mask", mask, dy);
        launch("multiply", dy.size(), t(dx, "dropoutBackward", "dx").pointer(), t(dy, "dropoutBackward", "dy").pointer(),
                t(mask, "dropoutBackward", "mask").pointer(), dy.size());
    }

    // ---------------------------------------------------------------- losses and metrics

    @Override
    public void softmaxCrossEntropy(Tensor loss, Tensor dx, Tensor logits, Tensor labels, double gradScale) {
        current();
        int n = Check.loss("softmaxCrossEntropy", loss, dx, logits, labels, Shape.of(logits.shape().rows()));
        int classes = logits.shape().columns();
        boolean checked = !driver.capturing(); // inside a graph nothing reads the label check back: no reset either, one node fewer
        if (checked) driver.fill32(status, n, 1);
        launch("softmax_cross_entropy", n, t(loss, "softmaxCrossEntropy", "loss").pointer(),
                dx == null ? null : t(dx, "softmaxCrossEntropy", "dx").pointer(), t(logits, "softmaxCrossEntropy", "logits").pointer(),
                t(labels, "softmaxCrossEntropy", "labels").pointer(), status, n, classes, (float) gradScale, dx == null ? 0 : 1);
        if (!checked) return; // no read-back inside a graph: the capturer checked the labels
        int[] firstBad = new int[1];
        driver.copyToHost(firstBad, status);
        if (firstBad[0] < n) Check.labels("softmaxCrossEntropy", downloadInts(labels), 0, n, classes); // throws, naming the label
    }

    @Override
    public void squaredError(Tensor loss, Tensor dy, Tensor y, Tensor target, double gradScale) {
        current();
        FloatTensor hostLoss = onHost(loss), hostDy = dy == null ? null : onHost(dy);
        Tensor hostTarget = target.dtype() == DType.INT32 ? host.uploadInts(target.shape(), downloadInts(target)) : onHost(target);
        host.squaredError(hostLoss, hostDy, onHost(y), hostTarget, gradScale);
        write(loss, hostLoss.data());
        if (dy != null) write(dy, hostDy.data());
    }

    @Override
    public void argmax(Tensor out, Tensor x) {
        current();
        int n = Check.rowsOf("argmax", "x", x);
        Check.shape("argmax", "out", out, Shape.of(n));
        launch("argmax", n, t(out, "argmax", "out").pointer(), t(x, "argmax", "x").pointer(), n, x.shape().columns());
    }

    // ---------------------------------------------------------------- learned feature-map combinations (host)

    // ---------------------------------------------------------------- step log

    @Override
    public void recordStep(Tensor log, Tensor cursor, Tensor perSampleLoss, Tensor logits, Tensor labels) {
        current();
        int n = Check.stepLog(log, cursor, perSampleLoss, logits, labels);
        // One block of exactly 256 threads: the kernel's reduction tree assumes it.
        driver.launch("record_step", 1, 256, 0, t(log, "recordStep", "log").pointer(), t(cursor, "recordStep", "cursor").pointer(),
                t(perSampleLoss, "recordStep", "perSampleLoss").pointer(), t(logits, "recordStep", "logits").pointer(),
                labels == null ? null : t(labels, "recordStep", "labels").pointer(), n, logits.shape().columns(), log.shape().rows());
    }

    // ---------------------------------------------------------------- optimizers

    /** A chunk table in device memory: its block, its size, and its rows (the launch's blocks). */

    /**
     * A chunk table on the device, made the first time its contents are met (in an eager step, not
     * in a recording). Where the tensors have moved many times (models made and closed), the least
     * recently used table goes: never one the step in hand has used, which its recording needs again.
     */
    ChunkTable table(long[] rows, int width) {
        ChunkTables.Key key = new ChunkTables.Key(rows);
        ChunkTable t = tables.get(key);
        if (t != null) return t;
        if (tables.size() >= CHUNK_TABLES) {
            var eldest = tables.entrySet().iterator();
            ChunkTable old = eldest.next().getValue();
            eldest.remove();
            memory.release(old.pointer(), old.bytes());
        }
        long bytes = Math.max(8, 8L * rows.length);
        DevicePointer p = memory.allocate(bytes, "a chunk table");
        if (rows.length > 0) driver.copyToDevice(p, ChunkTables.words(rows));
        t = new ChunkTable(p, bytes, rows.length / width);
        tables.put(key, t);
        return t;
    }

    /** A chunk table on the device: its rows, its size, and how many chunks (blocks) it describes. */
    record ChunkTable(DevicePointer pointer, long bytes, int chunks) {
    }

    // ---------------------------------------------------------------- graphs

    /**
     * Records the work by CUDA stream capture and instantiates it as an executable graph. While it
     * records, device memory is frozen and host copies are refused, so a step that would allocate,
     * free, upload or download fails here with the reason instead of recording stale addresses;
     * the softmax cross-entropy skips its label read-back then (whoever captures checks labels on
     * the host). A graph knows the allocator's generation at its recording and refuses to replay
     * once memory has been allocated or freed since.
     */
    @Override
    public Graph capture(Runnable work) {
        current();
        driver.beginCapture();
        try {
            memory.freeze("while a step is recorded as a CUDA graph");
            work.run();
        } catch (RuntimeException e) {
            try {
                driver.endCapture(false);
            } catch (RuntimeException alsoFailed) {
                e.addSuppressed(alsoFailed);
            }
            if (e instanceof MemoryChangedWhileRecording) throw e;
            throw new IllegalStateException("cannot record the step as a CUDA graph: " + e.getMessage(), e);
        } finally {
            memory.thaw();
        }
        GpuDriver.Recording graph;
        try {
            graph = driver.endCapture(true);
        } catch (CudaException e) {
            throw new IllegalStateException("cannot record the step as a CUDA graph: " + e.getMessage(), e);
        }
        long generation = memory.generation();
        return new Graph() {
            private boolean closed;

            @Override
            public boolean replay() {
                if (closed) throw new IllegalStateException("the graph is closed");
                current();
                if (memory.generation() != generation) return false;
                graph.launch();
                return true;
            }

            @Override
            public void close() {
                if (closed) return;
                closed = true;
                if (!CudaBackend.this.closed) graph.close();
            }
        };
    }

    @Override
    public void synchronize() {
        current();
        driver.synchronize();
    }

    @Override
    public void close() {
        if (closed) return;
        if (memory != null) {
            convolution.release();
            if (status != null) memory.release(status, 4);
            if (partials != null) memory.release(partials, 8L * PARTIAL_DOUBLES);
            if (cublasWorkspace != null) memory.release(cublasWorkspace, cublasWorkspaceBytes);
            for (ChunkTable t : tables.values()) memory.release(t.pointer(), t.bytes());
            memory.close();
        }
        closed = true;
        if (cudnn != null) cudnn.close();
        if (cublas != null) cublas.close();
        if (host != null) host.close();
        driver.close();
    }
}
