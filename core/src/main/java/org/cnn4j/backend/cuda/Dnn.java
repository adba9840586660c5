package org.cnn4j.backend.cuda;

import java.util.List;

import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.tensor.Shape;

/**
 * The cuDNN operations the CUDA backend uses, on device addresses, every tensor in one
 * {@link Layout} (the backend's is NCHW). {@link Cudnn} implements them through
 * {@code java.lang.foreign}; the tests also run the backend over an emulator.
 */
interface Dnn extends AutoCloseable {
    /** cudnnMathType_t: tensor cores (TF32) allowed, or strict float32. */
    int DEFAULT_MATH = 0, FMA_MATH = 3;

    /**
     * A convolution's three passes, each with cuDNN's names of its algorithms in the order of their
     * numbers (cudnnConvolutionFwdAlgo_t, cudnnConvolutionBwdDataAlgo_t, cudnnConvolutionBwdFilterAlgo_t).
     */
    enum Direction {
        FORWARD("FWD", "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"),
        BACKWARD_DATA("BWD_DATA", "0", "1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"),
        BACKWARD_FILTER("BWD_FILTER", "0", "1", "FFT", "3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING");

        private final String pass;
        private final List<String> algorithms;

        Direction(String pass, String... algorithms) {
            this.pass = pass;
            this.algorithms = List.of(algorithms);
        }

        /** How many algorithms cuDNN numbers for this pass. */
        int algorithmCount() {
            return algorithms.size();
        }

        /** cuDNN's name of algorithm number {@code algo}, e.g. CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED for 7 of FORWARD. */
        String algorithm(int algo) {
            return algo >= 0 && algo < algorithms.size() ? "CUDNN_CONVOLUTION_" + pass + "_ALGO_" + algorithms.get(algo) : "algorithm " + algo;
        }
    }

    /**
     * Where a tensor's channels lie in memory (cudnnTensorFormat_t). NCHW: tensors (n, c, h, w),
     * filters (k, c, r, s). NHWC: tensors (n, h, w, c), filters (k, r, s, c), channels innermost,
     * the order tensor cores read. A rank-2 (n, k) tensor is the same memory in both.
     */
    enum Layout {
        NCHW(0), NHWC(1);

        final int format;

        Layout(int format) {
            this.format = format;
        }
    }

    /** The algorithm chosen for one convolution shape and direction, with its math type and workspace. */
    record Choice(int algo, int mathType, long workspace) {
    }

    /** Makes the library issue its work (and its algorithm searches) to this CUDA stream. */
    void useStream(long stream);

    /** The layout of every tensor and filter this instance describes. */
    Layout layout();

    /** The library's version number, e.g. 91400 for cuDNN 9.14.0. */
    long version();

    /** The file the library was loaded from. */
    String library();

    /**
     * cuDNN's algorithm search ran out of memory (it allocates its own buffers to time each
     * algorithm): the caller may free memory and retry, or take {@link #chooseWithoutSearch}.
     */
    final class SearchOutOfMemory extends RuntimeException {
        SearchOutOfMemory(String message) {
            super(message);
        }
    }

    /**
     * The fastest algorithm for a convolution, measured once per (geometry, batch, direction) and
     * cached, within the workspace limit and, in deterministic mode, deterministic. With
     * {@link #FMA_MATH} (strict float32), only an algorithm that reports FMA math is taken: one
     * that reports tensor-core math is refused, whatever was asked. Throws {@link SearchOutOfMemory}
     * when the search itself cannot allocate.
     */
    Choice choose(ConvGeometry g, int n, Direction d, int mathType, long workspaceLimit, boolean deterministic);

    /**
     * The algorithm cuDNN's heuristics rank first among those that need no workspace (and, in
     * deterministic mode, are deterministic; with {@link #FMA_MATH}, use FMA math): no trial runs,
     * no allocation, for when the search cannot run.
     */
    Choice chooseWithoutSearch(ConvGeometry g, int n, Direction d, int mathType, boolean deterministic);

    /** y = conv(x, w) (overwrite). */
    void convolutionForward(ConvGeometry g, int n, Choice c, long x, long w, long y, long workspace);

    /**
     * y = max(conv(x, w) + b, 0) in one call, NaN propagated. y must hold zeros (or finite values):
     * it is also the call's z input, weighted by 0 but possibly read.
     */
    void convolutionBiasReluForward(ConvGeometry g, int n, Choice c, long x, long w, long b, long y, long workspace);

    /** dx = conv^T(dy, w) (overwrite). */
    void convolutionBackwardData(ConvGeometry g, int n, Choice c, long w, long dy, long dx, long workspace);

    /** dw += x ⋆ dy (accumulate, as the Backend's rule asks). */
    void convolutionBackwardFilter(ConvGeometry g, int n, Choice c, long x, long dy, long dw, long workspace);

    /** y(n,k,...) += b(k). */
    void addBias(Shape y, long yAddress, int k, long b);

    /** db(k) += sum of dy over batch and space. */
    void biasBackward(Shape dy, long dyAddress, int k, long db);

    /** Row-wise softmax of (n, classes). */
    void softmaxForward(Shape s, long x, long y);

    /** dx = y ∘ (dy − Σ dy·y) per row (overwrite). */
    void softmaxBackward(Shape s, long y, long dy, long dx);

    @Override
    void close();
}
