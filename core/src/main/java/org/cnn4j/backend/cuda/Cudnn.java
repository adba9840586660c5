package org.cnn4j.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.cnn4j.backend.cuda.NativeLibrary.call;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.tensor.Shape;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * cuDNN 9 (or 8) through {@code java.lang.foreign}: the handle, cached tensor, filter and
 * convolution descriptors, the convolution algorithms chosen once per shape by measurement
 * ({@code cudnnFindConvolution*Algorithm}) under a workspace limit, and the calls the CUDA backend
 * makes. Every descriptor of an instance is in one {@link Dnn.Layout}: the backend's NCHW, or NHWC
 * for the layout benchmark (benchmarks/conv-layouts). Signatures follow cudnn_graph.h, cudnn_ops.h and cudnn_cnn.h of
 * cuDNN 9. Every call is checked: a failure names the call, the shapes and cuDNN's error string.
 */
final class Cudnn implements Dnn {
    private static final Logger log = LoggerFactory.getLogger(Cudnn.class);
    // Enumerations (cudnn_graph.h / cudnn_ops.h).
    static final int FLOAT = 0, CROSS_CORRELATION = 1;
    static final int SOFTMAX_ACCURATE = 1, SOFTMAX_MODE_INSTANCE = 0;
    static final int ACTIVATION_RELU = 1, PROPAGATE_NAN = 1, DETERMINISTIC = 1;
    /** cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: algo, status, time, (pad), memory, determinism, mathType, reserved[3]. */
    static final long PERF_SIZE = 48, PERF_ALGO = 0, PERF_STATUS = 4, PERF_TIME = 8, PERF_MEMORY = 16, PERF_DETERMINISM = 24, PERF_MATH = 28;
    /**
     * Algorithms within this fraction of the fastest one's measured time count as equally fast
     * (cudnnFind times each once: its figures differ by a few percent from run to run); of those,
     * the one with the least workspace is taken, since the workspace counts in the peak memory.
     */
    static final double TIE = 0.05;
    private static final int MAX_ALGOS = 16;

    private final NativeLibrary lib;
    private final Layout layout;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final MemorySegment one, zero;
    private final MethodHandle getErrorString, getVersion, destroy, createTensor, setTensor4d, destroyTensor, createFilter,
            setFilter4d, destroyFilter, createConv, setConv2d, setConvMath, destroyConv, addTensor, softmaxForward, softmaxBackward,
            convForward, convBackwardData, convBackwardFilter, convBackwardBias, findForward, findBackwardData, findBackwardFilter, setStream,
            heuristicForward, heuristicBackwardData, heuristicBackwardFilter,
            convBiasActivation, createActivation, setActivation, destroyActivation;
    private final Map<Shape, MemorySegment> tensors = new HashMap<>();
    private final Map<Shape, MemorySegment> filters = new HashMap<>();
    private final Map<String, MemorySegment> convolutions = new HashMap<>();
    private final Map<String, List<Perf>> measured = new HashMap<>();
    private final Map<String, Choice> choices = new HashMap<>();
    /** cudnnStatus_t: the search could not allocate its buffers (host or device). */
    static final int INTERNAL_ERROR_HOST_ALLOCATION_FAILED = 4003, INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED = 4004;

    /** One algorithm's line of a cudnnFind or heuristic result. */
    private record Perf(int algo, int status, float time, long memory, boolean deterministic, int mathType) {
        @Override
        public String toString() {
            return algo + (status == 0 ? "" : "!") + "/" + memory + "B" + (deterministic ? "/det" : "") + (mathType == FMA_MATH ? "" : "/math" + mathType);
        }
    }
    private MemorySegment reluDescriptor;
    private boolean closed;

    Cudnn(NativeLibrary lib) {
        this(lib, Layout.NCHW);
    }

    /** With every tensor and filter descriptor in the given layout. */
    Cudnn(NativeLibrary lib, Layout layout) {
        this.lib = lib;
        this.layout = layout;
        getErrorString = lib.function("cudnnGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        getVersion = lib.function("cudnnGetVersion", FunctionDescriptor.of(JAVA_LONG));
        MethodHandle create = lib.function("cudnnCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = lib.function("cudnnDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        createTensor = lib.function("cudnnCreateTensorDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setTensor4d = lib.function("cudnnSetTensor4dDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        destroyTensor = lib.function("cudnnDestroyTensorDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        createFilter = lib.function("cudnnCreateFilterDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setFilter4d = lib.function("cudnnSetFilter4dDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        destroyFilter = lib.function("cudnnDestroyFilterDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        createConv = lib.function("cudnnCreateConvolutionDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setConv2d = lib.function("cudnnSetConvolution2dDescriptor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        setConvMath = lib.function("cudnnSetConvolutionMathType", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        destroyConv = lib.function("cudnnDestroyConvolutionDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // cudnnAddTensor(handle, alpha, aDesc, A, beta, cDesc, C)
        addTensor = lib.function("cudnnAddTensor",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        // cudnnSoftmaxForward(handle, algo, mode, alpha, xDesc, x, beta, yDesc, y)
        softmaxForward = lib.function("cudnnSoftmaxForward",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        // cudnnSoftmaxBackward(handle, algo, mode, alpha, yDesc, y, dyDesc, dy, beta, dxDesc, dx)
        softmaxBackward = lib.function("cudnnSoftmaxBackward", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        // cudnnConvolutionForward(handle, alpha, xDesc, x, wDesc, w, convDesc, algo, workSpace, wsBytes, beta, yDesc, y)
        convForward = lib.function("cudnnConvolutionForward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        // cudnnConvolutionBackwardData(handle, alpha, wDesc, w, dyDesc, dy, convDesc, algo, workSpace, wsBytes, beta, dxDesc, dx)
        convBackwardData = lib.function("cudnnConvolutionBackwardData", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        // cudnnConvolutionBackwardFilter(handle, alpha, xDesc, x, dyDesc, dy, convDesc, algo, workSpace, wsBytes, beta, dwDesc, dw)
        convBackwardFilter = lib.function("cudnnConvolutionBackwardFilter", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        // cudnnConvolutionBackwardBias(handle, alpha, dyDesc, dy, beta, dbDesc, db)
        convBackwardBias = lib.function("cudnnConvolutionBackwardBias",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        // cudnnFindConvolutionForwardAlgorithm(handle, xDesc, wDesc, convDesc, yDesc, requested, *returned, perf)
        findForward = lib.function("cudnnFindConvolutionForwardAlgorithm",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        // cudnnFindConvolutionBackwardDataAlgorithm(handle, wDesc, dyDesc, convDesc, dxDesc, requested, *returned, perf)
        findBackwardData = lib.function("cudnnFindConvolutionBackwardDataAlgorithm",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        // cudnnFindConvolutionBackwardFilterAlgorithm(handle, xDesc, dyDesc, convDesc, dwDesc, requested, *returned, perf)
        findBackwardFilter = lib.function("cudnnFindConvolutionBackwardFilterAlgorithm",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        // cudnnGetConvolution{Forward,BackwardData,BackwardFilter}Algorithm_v7: the same arguments as the three finds
        heuristicForward = lib.function("cudnnGetConvolutionForwardAlgorithm_v7",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        heuristicBackwardData = lib.function("cudnnGetConvolutionBackwardDataAlgorithm_v7",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        heuristicBackwardFilter = lib.function("cudnnGetConvolutionBackwardFilterAlgorithm_v7",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));

        // cudnnConvolutionBiasActivationForward(handle, alpha1, xDesc, x, wDesc, w, convDesc, algo, workSpace, wsBytes,
        //                                       alpha2, zDesc, z, biasDesc, bias, activationDesc, yDesc, y)
        convBiasActivation = lib.function("cudnnConvolutionBiasActivationForward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS));
        createActivation = lib.function("cudnnCreateActivationDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // cudnnSetActivationDescriptor(desc, mode, reluNanOpt, double coef)
        setActivation = lib.function("cudnnSetActivationDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_DOUBLE));
        destroyActivation = lib.function("cudnnDestroyActivationDescriptor", FunctionDescriptor.of(JAVA_INT, ADDRESS));

        // cudnnSetStream(handle, cudaStream_t streamId)
        setStream = lib.function("cudnnSetStream", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

        MemorySegment out = arena.allocate(ADDRESS);
        check(call(create, out), "cudnnCreate", "");
        handle = out.get(ADDRESS, 0);
        one = arena.allocate(JAVA_FLOAT);
        one.set(JAVA_FLOAT, 0, 1f);
        zero = arena.allocate(JAVA_FLOAT);
        zero.set(JAVA_FLOAT, 0, 0f);
    }

    /** Makes cuDNN issue its work (and its algorithm searches) to this CUDA stream. */
    @Override
    public void useStream(long stream) {
        check(call(setStream, handle, MemorySegment.ofAddress(stream)), "cudnnSetStream", "");
    }

    @Override
    public Layout layout() {
        return layout;
    }

    /** cuDNN's version number, e.g. 91400 for 9.14.0. */
    @Override
    public long version() {
        try {
            return (long) getVersion.invoke();
        } catch (Throwable t) {
            throw new CudaException("cudnnGetVersion failed: " + t, t);
        }
    }

    @Override
    public String library() {
        return lib.file().toString();
    }

    // ---------------------------------------------------------------- plumbing

    private void check(int status, String call, String detail) {
        NativeLibrary.check(status, getErrorString, call, detail);
    }

    private static MemorySegment device(long address) {
        return MemorySegment.ofAddress(address);
    }

    private MemorySegment created(MethodHandle create, String call) {
        MemorySegment out = arena.allocate(ADDRESS);
        check(call(create, out), call, "");
        return out.get(ADDRESS, 0);
    }

    /** A float tensor descriptor of dimensions (n, c, h, w) in this layout (cached); rank-2 shapes (n, k) become (n, k, 1, 1). */
    MemorySegment tensor(Shape s) {
        Shape four = s.rank() == 4 ? s : Shape.of(s.dim(0), s.size() / s.dim(0), 1, 1);
        return tensors.computeIfAbsent(four, k -> {
            MemorySegment d = created(createTensor, "cudnnCreateTensorDescriptor");
            check(call(setTensor4d, d, layout.format, FLOAT, k.dim(0), k.dim(1), k.dim(2), k.dim(3)), "cudnnSetTensor4dDescriptor", k.toString());
            return d;
        });
    }

    /** A float filter descriptor of dimensions (k, c, r, s) in this layout (KCRS or KRSC in memory; cached). */
    MemorySegment filter(Shape s) {
        return filters.computeIfAbsent(s, k -> {
            MemorySegment d = created(createFilter, "cudnnCreateFilterDescriptor");
            check(call(setFilter4d, d, FLOAT, layout.format, k.dim(0), k.dim(1), k.dim(2), k.dim(3)), "cudnnSetFilter4dDescriptor", k.toString());
            return d;
        });
    }

    /** Descriptors of a convolution's input x (n, c, h, w), output y (n, k, p, q) and filters w (k, c, r, s). */
    private MemorySegment inputs(ConvGeometry g, int n) {
        return tensor(Shape.of(n, g.c(), g.h(), g.w()));
    }

    private MemorySegment outputs(ConvGeometry g, int n) {
        return tensor(Shape.of(n, g.k(), g.p(), g.q()));
    }

    private MemorySegment filters(ConvGeometry g) {
        return filter(Shape.of(g.k(), g.c(), g.r(), g.s()));
    }

    /** A cross-correlation descriptor for one geometry, direction and math type (cached). */
    private MemorySegment convolution(ConvGeometry g, Direction d, int mathType) {
        return convolutions.computeIfAbsent(g + "/" + d + "/" + mathType, k -> {
            MemorySegment c = created(createConv, "cudnnCreateConvolutionDescriptor");
            check(call(setConv2d, c, g.padH(), g.padW(), g.strideH(), g.strideW(), g.dilationH(), g.dilationW(), CROSS_CORRELATION, FLOAT),
                    "cudnnSetConvolution2dDescriptor", g.toString());
            check(call(setConvMath, c, mathType), "cudnnSetConvolutionMathType", g.toString());
            return c;
        });
    }

    // ---------------------------------------------------------------- algorithms

    /**
     * The fastest algorithm for a convolution, measured once per (geometry, batch, direction, math)
     * and cached: of cuDNN's timed results that succeeded, fit the workspace limit, in deterministic
     * mode are deterministic and in strict float32 report FMA math, the fastest, or one within
     * {@link #TIE} of it that needs less workspace.
     */
    @Override
    public Choice choose(ConvGeometry g, int n, Direction d, int mathType, long workspaceLimit, boolean deterministic) {
        String choiceKey = g + "/" + n + "/" + d + "/" + mathType + "/" + workspaceLimit + "/" + deterministic;
        Choice cached = choices.get(choiceKey);
        if (cached != null) return cached;
        String key = g + "/" + n + "/" + d + "/" + mathType;
        List<Perf> perfs = measured.get(key);
        if (perfs == null) {
            perfs = results(g, n, d, mathType, true);
            measured.put(key, perfs);
        }
        Choice choice = null;
        float fastest = Float.NaN;
        for (Perf p : perfs) { // cuDNN lists them fastest first
            if (!acceptable(p, mathType, deterministic) || p.memory() > workspaceLimit) continue;
            if (choice == null) fastest = p.time();
            if (choice == null || (p.time() <= fastest * (1 + TIE) && p.memory() < choice.workspace())) {
                choice = new Choice(p.algo(), p.mathType(), p.memory());
            }
        }
        String detail = d + " " + g + " batch " + n;
        if (choice == null) {
            throw new CudaException("no cuDNN algorithm for " + detail + " fits a workspace of " + workspaceLimit + " bytes"
                    + (deterministic ? " deterministically" : "") + (mathType == FMA_MATH ? " in strict float32 (FMA math)" : "")
                    + "; measured: " + perfs);
        }
        log.debug("cuDNN {}: {} (math {}, workspace {} B) of {}", detail, d.algorithm(choice.algo()), choice.mathType(), choice.workspace(), perfs);
        choices.put(choiceKey, choice);
        return choice;
    }

    /** The heuristics' first algorithm that succeeds without workspace (see {@link Dnn#chooseWithoutSearch}). */
    @Override
    public Choice chooseWithoutSearch(ConvGeometry g, int n, Direction d, int mathType, boolean deterministic) {
        List<Perf> perfs = results(g, n, d, mathType, false);
        for (Perf p : perfs) {
            if (acceptable(p, mathType, deterministic) && p.memory() == 0) return new Choice(p.algo(), p.mathType(), 0);
        }
        throw new CudaException("no cuDNN algorithm for " + d + " " + g + " batch " + n + " runs without workspace"
                + (deterministic ? " deterministically" : "") + (mathType == FMA_MATH ? " in strict float32 (FMA math)" : "")
                + "; cuDNN's heuristics list: " + perfs);
    }

    /** Whether a result may be used: it succeeded, is deterministic if that is asked, and uses FMA math if strict float32 is. */
    private static boolean acceptable(Perf p, int mathType, boolean deterministic) {
        return p.status() == 0 && (!deterministic || p.deterministic()) && (mathType != FMA_MATH || p.mathType() == FMA_MATH);
    }

    /** cudnnFind's timed results ({@code timed}) or the heuristics' ranking, in cuDNN's order. */
    private List<Perf> results(ConvGeometry g, int n, Direction d, int mathType, boolean timed) {
        MemorySegment conv = convolution(g, d, mathType);
        try (Arena call = Arena.ofConfined()) {
            MemorySegment returned = call.allocate(JAVA_INT), perf = call.allocate(PERF_SIZE * MAX_ALGOS, 8);
            String detail = d + " " + g + " batch " + n;
            String name = switch (d) {
                case FORWARD -> timed ? "cudnnFindConvolutionForwardAlgorithm" : "cudnnGetConvolutionForwardAlgorithm_v7";
                case BACKWARD_DATA -> timed ? "cudnnFindConvolutionBackwardDataAlgorithm" : "cudnnGetConvolutionBackwardDataAlgorithm_v7";
                case BACKWARD_FILTER -> timed ? "cudnnFindConvolutionBackwardFilterAlgorithm" : "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
            };
            int status = switch (d) {
                case FORWARD -> call(timed ? findForward : heuristicForward, handle, inputs(g, n), filters(g), conv, outputs(g, n), MAX_ALGOS,
                        returned, perf);
                case BACKWARD_DATA -> call(timed ? findBackwardData : heuristicBackwardData, handle, filters(g), outputs(g, n), conv, inputs(g, n),
                        MAX_ALGOS, returned, perf);
                case BACKWARD_FILTER -> call(timed ? findBackwardFilter : heuristicBackwardFilter, handle, inputs(g, n), outputs(g, n), conv,
                        filters(g), MAX_ALGOS, returned, perf);
            };
            if (timed && (status == INTERNAL_ERROR_HOST_ALLOCATION_FAILED || status == INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)) {
                throw new SearchOutOfMemory(name + " (" + detail + ") could not allocate (status " + status + ")");
            }
            check(status, name, detail);
            int count = returned.get(JAVA_INT, 0);
            if (count < 0 || count > MAX_ALGOS) throw new CudaException(name + " (" + detail + ") returned " + count + " results, asked for " + MAX_ALGOS);
            List<Perf> perfs = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long at = i * PERF_SIZE;
                perfs.add(new Perf(perf.get(JAVA_INT, at + PERF_ALGO), perf.get(JAVA_INT, at + PERF_STATUS), perf.get(JAVA_FLOAT, at + PERF_TIME),
                        perf.get(JAVA_LONG, at + PERF_MEMORY), perf.get(JAVA_INT, at + PERF_DETERMINISM) == DETERMINISTIC, perf.get(JAVA_INT, at + PERF_MATH)));
            }
            return List.copyOf(perfs);
        }
    }

    // ---------------------------------------------------------------- operations

    /** y = conv(x, w) (beta 0: overwrite). */
    @Override
    public void convolutionForward(ConvGeometry g, int n, Choice c, long x, long w, long y, long workspace) {
        MemorySegment conv = convolution(g, Direction.FORWARD, c.mathType());
        check(call(convForward, handle, one, inputs(g, n), device(x), filters(g),
                device(w), conv, c.algo(), device(workspace), c.workspace(), zero, outputs(g, n), device(y)),
                "cudnnConvolutionForward", g + " batch " + n + " algo " + c.algo());
    }

    /**
     * y = max(conv(x, w) + b, 0) in one call (cudnnConvolutionBiasActivationForward: act(alpha1·conv
     * + alpha2·z + b) with alpha2 = 0 and z given as y, which the caller has zero-filled, since
     * nothing promises that cuDNN skips z when alpha2 is 0, and 0·NaN is NaN): the convolution layer
     * and its ReLU without two more passes. The ReLU propagates NaN, as the CPU's max(x, 0) does.
     */
    @Override
    public void convolutionBiasReluForward(ConvGeometry g, int n, Choice c, long x, long w, long b, long y, long workspace) {
        MemorySegment conv = convolution(g, Direction.FORWARD, c.mathType());
        check(call(convBiasActivation, handle, one, inputs(g, n), device(x), filters(g), device(w), conv, c.algo(), device(workspace),
                c.workspace(), zero, outputs(g, n), device(y), tensor(Shape.of(1, g.k(), 1, 1)), device(b), relu(), outputs(g, n), device(y)),
                "cudnnConvolutionBiasActivationForward", g + " batch " + n + " algo " + c.algo());
    }

    private MemorySegment relu() {
        if (reluDescriptor == null) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(call(createActivation, out), "cudnnCreateActivationDescriptor", "");
            MemorySegment d = out.get(ADDRESS, 0);
            check(call(setActivation, d, ACTIVATION_RELU, PROPAGATE_NAN, 0.0), "cudnnSetActivationDescriptor", "ReLU");
            reluDescriptor = d;
        }
        return reluDescriptor;
    }

    /** dx = conv^T(dy, w) (overwrite). */
    @Override
    public void convolutionBackwardData(ConvGeometry g, int n, Choice c, long w, long dy, long dx, long workspace) {
        MemorySegment conv = convolution(g, Direction.BACKWARD_DATA, c.mathType());
        check(call(convBackwardData, handle, one, filters(g), device(w),
                outputs(g, n), device(dy), conv, c.algo(), device(workspace), c.workspace(), zero,
                inputs(g, n), device(dx)),
                "cudnnConvolutionBackwardData", g + " batch " + n + " algo " + c.algo());
    }

    /** dw += x ⋆ dy (beta 1: accumulate, as the Backend's rule asks). */
    @Override
    public void convolutionBackwardFilter(ConvGeometry g, int n, Choice c, long x, long dy, long dw, long workspace) {
        MemorySegment conv = convolution(g, Direction.BACKWARD_FILTER, c.mathType());
        check(call(convBackwardFilter, handle, one, inputs(g, n), device(x),
                outputs(g, n), device(dy), conv, c.algo(), device(workspace), c.workspace(), one,
                filters(g), device(dw)),
                "cudnnConvolutionBackwardFilter", g + " batch " + n + " algo " + c.algo());
    }

    /** y(n,k,...) += b(k). */
    @Override
    public void addBias(Shape y, long yAddress, int k, long b) {
        check(call(addTensor, handle, one, tensor(Shape.of(1, k, 1, 1)), device(b), one, tensor(y), device(yAddress)),
                "cudnnAddTensor", "bias (" + k + ") onto " + y);
    }

    /** db(k) += sum of dy over batch and space. */
    @Override
    public void biasBackward(Shape dy, long dyAddress, int k, long db) {
        check(call(convBackwardBias, handle, one, tensor(dy), device(dyAddress), one, tensor(Shape.of(1, k, 1, 1)), device(db)),
                "cudnnConvolutionBackwardBias", "dy " + dy);
    }

    /** Row-wise softmax of (n, classes). */
    @Override
    public void softmaxForward(Shape s, long x, long y) {
        check(call(softmaxForward, handle, SOFTMAX_ACCURATE, SOFTMAX_MODE_INSTANCE, one, tensor(s), device(x), zero, tensor(s), device(y)),
                "cudnnSoftmaxForward", s.toString());
    }

    /** dx = y ∘ (dy − Σ dy·y) per row. */
    @Override
    public void softmaxBackward(Shape s, long y, long dy, long dx) {
        check(call(softmaxBackward, handle, SOFTMAX_ACCURATE, SOFTMAX_MODE_INSTANCE, one, tensor(s), device(y), tensor(s), device(dy), zero,
                tensor(s), device(dx)), "cudnnSoftmaxBackward", s.toString());
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (MemorySegment d : tensors.values()) call(destroyTensor, d);
        for (MemorySegment d : filters.values()) call(destroyFilter, d);
        for (MemorySegment d : convolutions.values()) call(destroyConv, d);
        if (reluDescriptor != null) call(destroyActivation, reluDescriptor);
        call(destroy, handle);
        arena.close();
    }
}
