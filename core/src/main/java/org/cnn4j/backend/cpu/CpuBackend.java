package org.cnn4j.backend.cpu;

import java.util.Arrays;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Check;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.CounterRng;
import org.cnn4j.backend.Erf;
import org.cnn4j.backend.HostBackend;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.FloatTensor;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * The CPU backend: pure Java, float32, multi-threaded on a fixed pool sized to the machine. Each
 * family of operations is a class of its own: {@link CpuConvolutionOps} (im2col and a blocked
 * SGEMM, {@link CpuConvolution} and {@link Sgemm}, or direct kernels), {@link CpuPoolingOps},
 * {@link CpuNormalizationOps}, {@link CpuFeatureMapOps} and {@link CpuOptimizerOps}; memory, GEMM
 * and the element-wise operations are written here as plain loops. Always available, and the
 * reference that the GPU backend is tested against.
 */
public final class CpuBackend extends HostBackend {
    private static final Logger LOG = LoggerFactory.getLogger(CpuBackend.class);
    /** Elementwise loops are split into pieces of this many elements. */
    static final int ELEMENT_GRAIN = 1 << 15;

    private final Parallel parallel;
    private final CpuConvolutionOps convolution;
    private final CpuPoolingOps pooling;
    private final Families families;

    /** A backend with one worker thread per available processor. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(int threads) {
        this.parallel = new Parallel(threads);
        this.convolution = new CpuConvolutionOps(this, parallel);
        this.pooling = new CpuPoolingOps(this, parallel);
        this.families = new Families(convolution, pooling, new CpuNormalizationOps(this, parallel), new CpuFeatureMapOps(this, parallel),
                new CpuOptimizerOps(this, parallel));
        LOG.debug("{} started; kernels: {}", name(), kernels());
    }

    /**
     * Whether this JVM runs the CPU kernels written with the Vector API (matrix products, direct
     * convolutions, activations, pooling) rather than the scalar ones: it needs {@code --add-modules
     * jdk.incubator.vector}, no {@code -Dcnn4j.vector=false}, and a JVM that compiles the Vector API
     * to vector instructions of 4 floats or more (C2, and a CPU with fused multiply-add).
     */
    public static boolean vectorKernels() {
        return Sgemm.VECTOR;
    }

    /** The CPU kernels this JVM runs, for people: the Vector API's and their width, or the scalar ones and why. */
    public static String kernels() {
        return Sgemm.VECTOR ? "Vector API, " + VectorSgemm.NR / 2 + " floats a vector" : "scalar (" + Sgemm.SCALAR + ")";
    }

    @Override
    public String name() {
        return "cpu(" + parallel.threads() + (parallel.threads() == 1 ? " thread)" : " threads)");
    }

    @Override
    public DType precision() {
        return DType.FLOAT32;
    }

    public int threads() {
        return parallel.threads();
    }

    @Override
    public void close() {
        parallel.close();
    }

    // ---------------------------------------------------------------- tensors

    @Override
    public Families families() {
        return families;
    }

    /** Convolution, bias and activation with ReLU applied as the results are written out (bitwise the separate passes). */
    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, Tensor b, Activation f, ConvGeometry g) {
        convolution.convForward(y, x, w, b, f, g);
    }

    /** The max-pool gather and, with reluOutput (else null), the ReLU's backward plane by plane, in one parallel pass. */
    @Override
    public void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        pooling.maxPoolBackward(dx, dy, mask, reluOutput, g);
    }

    /** The int array of an INT32 tensor of this backend. */
    int[] intsOf(Tensor t) {
        return ints(t);
    }

    /** The float array of a FLOAT32 tensor of this backend. */
    float[] f(Tensor t) {
        if (t instanceof FloatTensor ft && ft.backend() == this) return ft.data();
        throw foreign(t, "a FLOAT32 tensor");
    }

    @Override
    public FloatTensor allocate(Shape shape) {
        return new FloatTensor(this, shape, new float[shape.size()]);
    }

    @Override
    public FloatTensor upload(Shape shape, float[] values) {
        return new FloatTensor(this, shape, values.clone());
    }

    @Override
    public FloatTensor upload(Shape shape, double[] values) {
        float[] data = new float[values.length];
        for (int i = 0; i < data.length; i++) data[i] = (float) values[i];
        return new FloatTensor(this, shape, data);
    }

    @Override
    public void write(Tensor dst, float[] values) {
        float[] d = f(dst);
        checkLength("write", dst, values.length);
        System.arraycopy(values, 0, d, 0, d.length);
    }

    @Override
    public float[] downloadFloats(Tensor x) {
        return f(x).clone();
    }

    @Override
    public double[] downloadDoubles(Tensor x) {
        float[] d = f(x);
        double[] out = new double[d.length];
        for (int i = 0; i < d.length; i++) out[i] = d[i];
        return out;
    }

    @Override
    public void fill(Tensor y, double value) {
        if (y.dtype() == DType.INT32) {
            Arrays.fill(ints(y), (int) value);
        } else {
            Arrays.fill(f(y), (float) value);
        }
    }

    @Override
    public void copy(Tensor y, Tensor x) {
        Check.sameSize("copy", "y", y, x);
        System.arraycopy(f(x), 0, f(y), 0, x.size());
    }

    @Override
    public void add(Tensor y, Tensor a, Tensor b) {
        Check.sameSize("add", "a", a, y);
        Check.sameSize("add", "b", b, y);
        float[] yd = f(y), ad = f(a), bd = f(b);
        parallel.forRange(y.size(), ELEMENT_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) yd[i] = ad[i] + bd[i];
        });
    }

    @Override
    public void copyChannels(Tensor y, Tensor x, int offset, boolean extract) {
        int[] g = Check.channels("copyChannels", y, x, offset);
        float[] yd = f(y), xd = f(x);
        int plane = g[3], block = g[2] * plane;
        for (int s = 0; s < g[0]; s++) {
            int at = (s * g[1] + offset) * plane;
            if (extract) System.arraycopy(yd, at, xd, s * block, block);
            else System.arraycopy(xd, s * block, yd, at, block);
        }
    }

    @Override
    public void padPlanes(Tensor y, Tensor x, int top, int left, boolean crop) {
        int[] g = Check.planes("padPlanes", y, x, top, left);
        float[] yd = f(y), xd = f(x);
        int h = g[1], w = g[2], hy = g[3], wy = g[4];
        parallel.forRange(g[0], Math.max(1, ELEMENT_GRAIN / (hy * wy)), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * h * w, out = plane * hy * wy;
                if (!crop) Arrays.fill(yd, out, out + hy * wy, 0f);
                for (int i = 0; i < h; i++) {
                    int at = out + (top + i) * wy + left;
                    if (crop) System.arraycopy(yd, at, xd, in + i * w, w);
                    else System.arraycopy(xd, in + i * w, yd, at, w);
                }
            }
        });
    }

    @Override
    public double sum(Tensor x) {
        double s = 0;
        for (float v : f(x)) s += v;
        return s;
    }

    // ---------------------------------------------------------------- dense algebra

    @Override
    public void gemm(boolean transA, boolean transB, double alpha, Tensor a, Tensor b, double beta, Tensor c) {
        int[] mnk = Check.gemm(a, transA, b, transB, c);
        int m = mnk[0], n = mnk[1], k = mnk[2];
        Sgemm.multiply(parallel, f(c), 0, n, f(a), 0, a.shape().columns(), transA, f(b), 0, b.shape().columns(), transB, m, n, k,
                (float) alpha, (float) beta);
    }

    // ---------------------------------------------------------------- elementwise

    @Override
    public void activationForward(Activation fn, Tensor y, Tensor x) {
        Check.sameSize("activationForward", "y", y, x);
        float[] yd = f(y), xd = f(x);
        if (Sgemm.VECTOR && VectorActivations.serves(fn)) {
            parallel.forRange(x.size(), ELEMENT_GRAIN, (lo, hi) -> VectorActivations.forward(fn, yd, xd, lo, hi));
            return;
        }
        float slope = (float) fn.slope();
        parallel.forRange(x.size(), ELEMENT_GRAIN, (lo, hi) -> {
            switch (fn.kind()) {
                case IDENTITY -> System.arraycopy(xd, lo, yd, lo, hi - lo);
                case RELU -> {
                    // Math.max vectorises where a conditional does not; it keeps NaN.
                    for (int i = lo; i < hi; i++) yd[i] = Math.max(xd[i], 0f);
                }
                case SIGMOID -> {
                    for (int i = lo; i < hi; i++) yd[i] = (float) (1 / (1 + Math.exp(-xd[i])));
                }
                case TANH -> {
                    for (int i = lo; i < hi; i++) yd[i] = (float) Math.tanh(xd[i]);
                }
                case SCALED_TANH -> {
                    for (int i = lo; i < hi; i++) {
                        yd[i] = (float) (Activation.SCALED_TANH_A * Math.tanh(Activation.SCALED_TANH_B * xd[i]));
                    }
                }
                case LEAKY_RELU -> {
                    for (int i = lo; i < hi; i++) yd[i] = xd[i] > 0 ? xd[i] : xd[i] * slope;
                }
                case SILU -> {
                    for (int i = lo; i < hi; i++) yd[i] = (float) (xd[i] / (1 + Math.exp(-xd[i])));
                }
                case GELU -> {
                    for (int i = lo; i < hi; i++) yd[i] = (float) (xd[i] * 0.5 * Erf.erfcFast(-xd[i] * Activation.SQRT1_2));
                }
            }
        });
    }

    @Override
    public void activationBackward(Activation fn, Tensor dx, Tensor dy, Tensor x, Tensor y) {
        Check.sameSize("activationBackward", "dx", dx, x);
        Check.sameSize("activationBackward", "dy", dy, x);
        Check.sameSize("activationBackward", "y", y, x);
        float[] dxd = f(dx), dyd = f(dy), xd = f(x), yd = f(y);
        float a = (float) Activation.SCALED_TANH_A, ba = (float) (Activation.SCALED_TANH_B / Activation.SCALED_TANH_A), slope = (float) fn.slope();
        parallel.forRange(x.size(), ELEMENT_GRAIN, (lo, hi) -> {
            switch (fn.kind()) {
                case IDENTITY -> System.arraycopy(dyd, lo, dxd, lo, hi - lo);
                case RELU -> {
                    // signum(max(x, 0)) is 1 where x > 0 and 0 elsewhere; unlike a conditional it vectorises.
                    for (int i = lo; i < hi; i++) dxd[i] = dyd[i] * Math.signum(Math.max(xd[i], 0f));
                }
                case SIGMOID -> {
                    for (int i = lo; i < hi; i++) dxd[i] = dyd[i] * yd[i] * (1f - yd[i]);
                }
                case TANH -> {
                    for (int i = lo; i < hi; i++) dxd[i] = dyd[i] * (1f - yd[i] * yd[i]);
                }
                case SCALED_TANH -> {
                    for (int i = lo; i < hi; i++) dxd[i] = dyd[i] * ba * (a * a - yd[i] * yd[i]);
                }
                case LEAKY_RELU -> {
                    for (int i = lo; i < hi; i++) dxd[i] = dyd[i] * (xd[i] > 0 ? 1f : xd[i] != xd[i] ? xd[i] : slope);
                }
                case SILU -> {
                    for (int i = lo; i < hi; i++) {
                        float s = (float) (1 / (1 + Math.exp(-xd[i])));
                        dxd[i] = dyd[i] * (s * (1 + xd[i] * (1 - s)));
                    }
                }
                case GELU -> {
                    for (int i = lo; i < hi; i++) {
                        double v = xd[i];
                        dxd[i] = dyd[i] * (float) (0.5 * Erf.erfcFast(-v * Activation.SQRT1_2) + v * Activation.INV_SQRT_2PI * Math.exp(-0.5 * v * v));
                    }
                }
            }
        });
    }

    @Override
    public void softmaxForward(Tensor y, Tensor x) {
        Check.sameSize("softmaxForward", "y", y, x);
        int n = Check.rowsOf("softmaxForward", "x", x), classes = x.shape().columns();
        float[] yd = f(y), xd = f(x);
        for (int i = 0; i < n; i++) {
            int off = i * classes;
            float max = xd[off];
            for (int j = 1; j < classes; j++) max = Math.max(max, xd[off + j]);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(xd[off + j] - max);
            for (int j = 0; j < classes; j++) yd[off + j] = (float) (Math.exp(xd[off + j] - max) / sum);
        }
    }

    @Override
    public void softmaxBackward(Tensor dx, Tensor dy, Tensor y) {
        Check.sameSize("softmaxBackward", "dx", dx, y);
        Check.sameSize("softmaxBackward", "dy", dy, y);
        int n = Check.rowsOf("softmaxBackward", "y", y), classes = y.shape().columns();
        float[] dxd = f(dx), dyd = f(dy), yd = f(y);
        for (int i = 0; i < n; i++) {
            int off = i * classes;
            double dot = 0;
            for (int j = 0; j < classes; j++) dot += (double) dyd[off + j] * yd[off + j];
            for (int j = 0; j < classes; j++) dxd[off + j] = (float) (yd[off + j] * (dyd[off + j] - dot));
        }
    }

    @Override
    public void dropoutForward(Tensor y, Tensor mask, Tensor x, double p, long seed) {
        Check.sameSize("dropoutForward", "y", y, x);
        Check.sameSize("dropoutForward", "mask", mask, x);
        float[] yd = f(y), md = f(mask), xd = f(x);
        float keep = (float) (1 / (1 - p)), drop = (float) p;
        parallel.forRange(x.size(), ELEMENT_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                md[i] = CounterRng.uniform(seed, i) < drop ? 0f : keep;
                yd[i] = xd[i] * md[i];
            }
        });
    }

    @Override
    public void dropoutBackward(Tensor dx, Tensor dy, Tensor mask) {
        Check.sameSize("dropoutBackward", "dx", dx, dy);
        Check.sameSize("dropoutBackward", "mask", mask, dy);
        float[] dxd = f(dx), dyd = f(dy), md = f(mask);
        parallel.forRange(dy.size(), ELEMENT_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) dxd[i] = dyd[i] * md[i];
        });
    }

    // ---------------------------------------------------------------- losses and metrics

    @Override
    public void softmaxCrossEntropy(Tensor loss, Tensor dx, Tensor logits, Tensor labels, double gradScale) {
        int n = Check.loss("softmaxCrossEntropy", loss, dx, logits, labels, Shape.of(logits.shape().rows()));
        int classes = logits.shape().columns();
        int[] label = ints(labels);
        Check.labels("softmaxCrossEntropy", label, 0, n, classes);
        float[] x = f(logits), l = f(loss), d = dx == null ? null : f(dx);
        for (int i = 0; i < n; i++) {
            int off = i * classes;
            float max = x[off];
            for (int j = 1; j < classes; j++) max = Math.max(max, x[off + j]);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(x[off + j] - max);
            double logSum = Math.log(sum) + max;
            l[i] = (float) (logSum - x[off + label[i]]);
            if (d != null) {
                for (int j = 0; j < classes; j++) {
                    double prob = Math.exp(x[off + j] - logSum);
                    d[off + j] = (float) (gradScale * (prob - (j == label[i] ? 1 : 0)));
                }
            }
        }
    }

    @Override
    public void squaredError(Tensor loss, Tensor dy, Tensor y, Tensor target, double gradScale) {
        int n = Check.loss("squaredError", loss, dy, y, target, y.shape()), cols = y.shape().columns();
        float[] yd = f(y), t = f(target), l = f(loss), d = dy == null ? null : f(dy);
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = i * cols; j < (i + 1) * cols; j++) {
                double e = yd[j] - t[j];
                s += e * e;
                if (d != null) d[j] = (float) (gradScale * e);
            }
            l[i] = (float) (0.5 * s);
        }
    }

    @Override
    public void argmax(Tensor out, Tensor x) {
        int n = Check.rowsOf("argmax", "x", x), classes = x.shape().columns();
        Check.shape("argmax", "out", out, Shape.of(n));
        float[] xd = f(x);
        int[] o = ints(out);
        for (int i = 0; i < n; i++) {
            int best = 0, off = i * classes;
            for (int j = 1; j < classes; j++) if (xd[off + j] > xd[off + best]) best = j;
            o[i] = best;
        }
    }

    // ---------------------------------------------------------------- optimizers

    @Override
    public void recordStep(Tensor log, Tensor cursor, Tensor perSampleLoss, Tensor logits, Tensor labels) {
        int n = Check.stepLog(log, cursor, perSampleLoss, logits, labels);
        float[] loss = f(perSampleLoss), x = f(logits);
        int[] at = ints(cursor), truth = labels == null ? null : ints(labels);
        int classes = logits.shape().columns(), correct = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += loss[i];
            if (truth == null) continue;
            int best = 0, off = i * classes;
            for (int j = 1; j < classes; j++) if (x[off + j] > x[off + best]) best = j;
            if (best == truth[i]) correct++;
        }
        int row = at[0]++;
        if (row < log.shape().rows()) {
            float[] out = f(log);
            out[2 * row] = (float) (sum / n);
            out[2 * row + 1] = truth == null ? -1 : correct;
        }
    }
}
