package org.cnn4j.backend.cpu;

import java.util.Arrays;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Check;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.CounterRng;
import org.cnn4j.backend.Erf;
import org.cnn4j.backend.HostBackend;
import org.cnn4j.backend.PenaltyMath;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.backend.StepRates;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.FloatTensor;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * The CPU backend: pure Java, float32, multi-threaded on a fixed pool sized to the machine.
 * Convolutions and dense layers go through im2col and a blocked SGEMM ({@link CpuConvolution},
 * {@link Sgemm}); pooling through {@link CpuPooling}; everything else is written here as plain
 * loops. Always available, and the reference that the GPU backend is tested against.
 */
public final class CpuBackend extends HostBackend {
    private static final Logger LOG = LoggerFactory.getLogger(CpuBackend.class);
    /** Elementwise loops are split into pieces of this many elements. */
    private static final int ELEMENT_GRAIN = 1 << 15;

    private final Parallel parallel;
    private final CpuConvolution convolution;
    private final CpuPooling pooling;

    /** A backend with one worker thread per available processor. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(int threads) {
        this.parallel = new Parallel(threads);
        this.convolution = new CpuConvolution(parallel);
        this.pooling = new CpuPooling(parallel);
        LOG.debug("{} started; SGEMM kernel: {}", name(), Sgemm.VECTOR ? "Vector API, " + VectorSgemm.NR / 2 + " floats a vector"
                : "scalar (run with --add-modules jdk.incubator.vector for the Vector API kernel)");
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

    private float[] f(Tensor t) {
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
    public void batchNormTraining(Tensor y, Tensor saveMean, Tensor saveInvStd, Tensor x, Tensor gamma, Tensor beta,
                                  Tensor runningMean, Tensor runningVar, double momentum, double eps) {
        int[] g = Check.batchNorm("batchNormTraining", y, x, saveMean, saveInvStd, gamma, beta, runningMean, runningVar);
        CpuNormalization.training(parallel, f(y), f(saveMean), f(saveInvStd), f(x), f(gamma), f(beta), f(runningMean), f(runningVar),
                momentum, eps, g[0], g[1], g[2]);
    }

    @Override
    public void batchNormInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        int[] g = Check.batchNorm("batchNormInference", y, x, gamma, beta, runningMean, runningVar);
        CpuNormalization.inference(parallel, f(y), f(x), f(gamma), f(beta), f(runningMean), f(runningVar), eps, g[0], g[1], g[2]);
    }

    @Override
    public void batchNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma, Tensor saveMean, Tensor saveInvStd) {
        int[] g = Check.batchNorm("batchNormBackward", dx, x, dgamma, dbeta, gamma, saveMean, saveInvStd);
        Check.sameSize("batchNormBackward", "dy", dy, x);
        CpuNormalization.backward(parallel, f(dx), f(dgamma), f(dbeta), f(dy), f(x), f(gamma), f(saveMean), f(saveInvStd), g[0], g[1], g[2]);
    }

    @Override
    public double sum(Tensor x) {
        double s = 0;
        for (float v : f(x)) s += v;
        return s;
    }

    // ---------------------------------------------------------------- convolution

    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, ConvGeometry g) {
        convForward(y, x, w, null, g);
    }

    /** The bias is added as the convolution's result is written out, instead of in a second pass over y. */
    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, Tensor b, ConvGeometry g) {
        convForward(y, x, w, b, Activation.IDENTITY, g);
    }

    /** ReLU is applied as the results are written out, as max(v, 0) like {@link #activationForward}: bitwise the two passes. */
    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, Tensor b, Activation fn, ConvGeometry g) {
        Check.conv("convForward", y, x, w, g);
        if (b != null) biasPlane("convForward", y, b);
        boolean relu = fn == Activation.RELU;
        convolution.forward(f(y), f(x), f(w), b == null ? null : f(b), relu, x.shape().n(), g);
        if (!relu && fn != Activation.IDENTITY) activationForward(fn, y, y);
    }

    @Override
    public void convBackwardData(Tensor dx, Tensor dy, Tensor w, ConvGeometry g) {
        Check.conv("convBackwardData", dy, dx, w, g);
        convolution.backwardData(f(dx), f(dy), f(w), dx.shape().n(), g);
    }

    @Override
    public void convBackwardFilter(Tensor dw, Tensor x, Tensor dy, ConvGeometry g) {
        convBackwardFilter(dw, null, x, dy, g);
    }

    /** The bias gradient is summed from dy as the filter gradient passes over it, instead of in a second pass. */
    @Override
    public void convBackwardFilter(Tensor dw, Tensor db, Tensor x, Tensor dy, ConvGeometry g) {
        Check.conv("convBackwardFilter", dy, x, dw, g);
        if (db != null) biasPlane("convBackwardFilter", dy, db);
        convolution.backwardFilter(f(dw), db == null ? null : f(db), f(x), f(dy), x.shape().n(), g);
    }

    @Override
    public void addBias(Tensor y, Tensor b) {
        int plane = biasPlane("addBias", y, b), k = b.size();
        float[] yd = f(y), bd = f(b);
        parallel.forRange(y.shape().rows() * k, Math.max(1, ELEMENT_GRAIN / plane), (lo, hi) -> {
            for (int nk = lo; nk < hi; nk++) {
                float bias = bd[nk % k];
                int off = nk * plane;
                for (int i = 0; i < plane; i++) yd[off + i] += bias;
            }
        });
    }

    @Override
    public void biasBackward(Tensor db, Tensor dy) {
        int plane = biasPlane("biasBackward", dy, db), k = db.size(), n = dy.shape().rows();
        float[] d = f(dy), out = f(db);
        // One channel per task, summed in double over the batch in order: thread-count independent.
        parallel.forRange(k, 1, (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += CpuConvolution.sum(d, (i * k + c) * plane, plane);
                out[c] += (float) s;
            }
        });
    }

    // ---------------------------------------------------------------- pooling and subsampling

    @Override
    public void maxPoolForward(Tensor y, Tensor mask, Tensor x, PoolGeometry g) {
        Check.pool("maxPoolForward", y, x, g);
        Check.shape("maxPoolForward", "mask", mask, y.shape());
        pooling.maxForward(f(y), ints(mask), f(x), x.shape().n() * g.c(), g);
    }

    @Override
    public void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, PoolGeometry g) {
        maxPoolBackward(dx, dy, mask, null, g);
    }

    /** The gather and, with reluOutput (else null), the ReLU's backward plane by plane, in one parallel pass. */
    @Override
    public void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        Check.pool("maxPoolBackward", dy, dx, g);
        Check.shape("maxPoolBackward", "mask", mask, dy.shape());
        if (reluOutput != null) Check.shape("maxPoolBackward", "reluOutput", reluOutput, dx.shape());
        pooling.maxBackward(f(dx), f(dy), ints(mask), reluOutput == null ? null : f(reluOutput), dx.shape().n() * g.c(), g);
    }

    @Override
    public void avgPoolForward(Tensor y, Tensor x, PoolGeometry g) {
        Check.pool("avgPoolForward", y, x, g);
        pooling.avgForward(f(y), f(x), x.shape().n() * g.c(), g);
    }

    @Override
    public void avgPoolBackward(Tensor dx, Tensor dy, PoolGeometry g) {
        Check.pool("avgPoolBackward", dy, dx, g);
        pooling.avgBackward(f(dx), f(dy), dx.shape().n() * g.c(), g);
    }

    @Override
    public void subsampleForward(Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g) {
        Check.subsample("subsampleForward", y, x, beta, b, g);
        pooling.subsampleForward(f(y), f(x), f(beta), f(b), x.shape().n() * g.c(), g);
    }

    @Override
    public void subsampleBackward(Tensor dx, Tensor dbeta, Tensor db, Tensor dy, Tensor x, Tensor beta, PoolGeometry g) {
        Check.subsample("subsampleBackward", dy, x, dbeta, db, g);
        Check.shape("subsampleBackward", "dx", dx, x.shape());
        Check.shape("subsampleBackward", "beta", beta, dbeta.shape());
        pooling.subsampleBackward(f(dx), f(dbeta), f(db), f(dy), f(x), f(beta), x.shape().n() * g.c(), g);
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

    // ---------------------------------------------------------------- learned feature-map combinations

    @Override
    public void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c) {
        int outMaps = k.shape().dim(0), inMaps = k.shape().dim(1), taps = k.size() / (outMaps * inMaps);
        Check.combination("combinationForward", k, alpha, c, wEff);
        softmaxForward(alpha, c);
        float[] a = f(alpha), kd = f(k), wd = f(wEff);
        for (int ji = 0; ji < outMaps * inMaps; ji++) {
            for (int t = ji * taps; t < (ji + 1) * taps; t++) wd[t] = a[ji] * kd[t];
        }
    }

    @Override
    public void combinationBackward(Tensor dk, Tensor dc, Tensor dwEff, Tensor alpha, Tensor k,
                                    CombinationPenalty penalty, double lambda) {
        int outMaps = k.shape().dim(0), inMaps = k.shape().dim(1), taps = k.size() / (outMaps * inMaps);
        Check.combination("combinationBackward", k, alpha, dc, dwEff);
        Check.shape("combinationBackward", "dk", dk, k.shape());
        float[] a = f(alpha), kd = f(k), dkd = f(dk), dcd = f(dc), dw = f(dwEff);
        double[] alphaRow = new double[inMaps];
        double[] dAlpha = new double[inMaps];
        double[] penaltyGrad = new double[inMaps];
        for (int j = 0; j < outMaps; j++) {
            double weighted = 0;
            for (int i = 0; i < inMaps; i++) {
                int ji = j * inMaps + i;
                double s = 0;
                for (int t = ji * taps; t < (ji + 1) * taps; t++) {
                    s += (double) kd[t] * dw[t];
                    dkd[t] += a[ji] * dw[t];
                }
                dAlpha[i] = s;
                alphaRow[i] = a[ji];
                weighted += a[ji] * s;
            }
            PenaltyMath.gradient(penaltyGrad, alphaRow, 0, inMaps, penalty, lambda);
            for (int i = 0; i < inMaps; i++) {
                int ji = j * inMaps + i;
                dcd[ji] += (float) (a[ji] * (dAlpha[i] - weighted) + penaltyGrad[i]);
            }
        }
    }

    @Override
    public double combinationPenalty(Tensor alpha, CombinationPenalty penalty, double lambda) {
        int outMaps = alpha.shape().rows(), inMaps = alpha.shape().columns();
        double[] a = downloadDoubles(alpha);
        double total = 0;
        for (int j = 0; j < outMaps; j++) total += PenaltyMath.value(a, j * inMaps, inMaps, penalty, lambda);
        return total;
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

    @Override
    public void sgdStep(Tensor w, Tensor velocity, Tensor dw, Tensor rates, int row, double momentum, boolean nesterov) {
        Check.sameSize("sgdStep", "dw", dw, w);
        if (momentum != 0) Check.sameSize("sgdStep", "velocity", velocity, w);
        int at = StepRates.offset("sgdStep", rates, row);
        float[] wd = f(w), g = f(dw), v = momentum != 0 ? f(velocity) : null, r = f(rates);
        float rate = r[at + StepRates.LEARNING_RATE], mu = (float) momentum, decay = r[at + StepRates.WEIGHT_DECAY];
        parallel.forRange(w.size(), ELEMENT_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float grad = g[i] + decay * wd[i];
                if (v != null) {
                    v[i] = mu * v[i] + grad;
                    grad = nesterov ? grad + mu * v[i] : v[i];
                }
                wd[i] -= rate * grad;
            }
        });
    }

    @Override
    public void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, Tensor rates, int row, double beta1, double beta2, double eps,
                         boolean decoupled) {
        Check.sameSize("adamStep", "dw", dw, w);
        Check.sameSize("adamStep", "m", m, w);
        Check.sameSize("adamStep", "v", v, w);
        int at = StepRates.offset("adamStep", rates, row);
        float[] wd = f(w), g = f(dw), md = f(m), vd = f(v), r = f(rates);
        float b1 = (float) beta1, b2 = (float) beta2, e = (float) eps, decay = r[at + StepRates.WEIGHT_DECAY];
        float stepSize = r[at + StepRates.ADAM_STEP_SIZE], correction2 = r[at + StepRates.ADAM_CORRECTION2];
        float shrink = decoupled ? r[at + StepRates.ADAM_SHRINK] : 1f;
        parallel.forRange(w.size(), ELEMENT_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float grad = decoupled ? g[i] : g[i] + decay * wd[i];
                md[i] = b1 * md[i] + (1 - b1) * grad;
                vd[i] = b2 * vd[i] + (1 - b2) * grad * grad;
                wd[i] = wd[i] * shrink - stepSize * md[i] / ((float) Math.sqrt(vd[i]) / correction2 + e);
            }
        });
    }
}
