package org.cnn4j.backend.reference;

import java.util.Arrays;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.HostBackend;
import org.cnn4j.backend.Check;
import org.cnn4j.backend.CounterRng;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.DoubleTensor;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * The oracle: every operation as the plainest double-precision loop over its definition, one
 * thread, no blocking, no im2col. Slow by design. The tests compare the fast backends with it, and
 * the gradient checker runs models on it so that central differences are accurate to ~1e-10.
 * Each family of operations is a class of its own ({@link ReferenceConvolutionOps}, …); the core
 * is here.
 *
 * <p>Sizes: n batch, c channels of h×w, k filters of r×s, output p×q (as throughout cnn4j).
 */
public final class ReferenceBackend extends HostBackend {
    private final Families families = new Families(new ReferenceConvolutionOps(this), new ReferencePoolingOps(this),
            new ReferenceNormalizationOps(this), new ReferenceFeatureMapOps(this), new ReferenceOptimizerOps(this));

    @Override
    public String name() {
        return "reference(float64)";
    }

    @Override
    public DType precision() {
        return DType.FLOAT64;
    }

    @Override
    public void close() {
    }

    // ---------------------------------------------------------------- tensors

    @Override
    public Families families() {
        return families;
    }

    /** The double array of a FLOAT64 tensor of this backend. */
    double[] d(Tensor t) {
        if (t instanceof DoubleTensor dt && dt.backend() == this) return dt.data();
        throw foreign(t, "a FLOAT64 tensor");
    }

    /** The int array of an INT32 tensor of this backend. */
    int[] intsOf(Tensor t) {
        return ints(t);
    }

    @Override
    public DoubleTensor allocate(Shape shape) {
        return new DoubleTensor(this, shape, new double[shape.size()]);
    }

    @Override
    public DoubleTensor upload(Shape shape, float[] values) {
        double[] data = new double[values.length];
        for (int i = 0; i < data.length; i++) data[i] = values[i];
        return new DoubleTensor(this, shape, data);
    }

    @Override
    public DoubleTensor upload(Shape shape, double[] values) {
        return new DoubleTensor(this, shape, values.clone());
    }

    @Override
    public void write(Tensor dst, float[] values) {
        double[] out = d(dst);
        checkLength("write", dst, values.length);
        for (int i = 0; i < out.length; i++) out[i] = values[i];
    }

    @Override
    public void write(Tensor dst, double[] values) {
        double[] out = d(dst);
        checkLength("write", dst, values.length);
        System.arraycopy(values, 0, out, 0, out.length);
    }

    @Override
    public float[] downloadFloats(Tensor x) {
        double[] v = d(x);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (float) v[i];
        return out;
    }

    @Override
    public double[] downloadDoubles(Tensor x) {
        return d(x).clone();
    }

    @Override
    public void fill(Tensor y, double value) {
        if (y.dtype() == DType.INT32) {
            Arrays.fill(ints(y), (int) value);
        } else {
            Arrays.fill(d(y), value);
        }
    }

    @Override
    public void copy(Tensor y, Tensor x) {
        Check.sameSize("copy", "y", y, x);
        System.arraycopy(d(x), 0, d(y), 0, x.size());
    }

    @Override
    public void add(Tensor y, Tensor a, Tensor b) {
        Check.sameSize("add", "a", a, y);
        Check.sameSize("add", "b", b, y);
        double[] yd = d(y), ad = d(a), bd = d(b);
        for (int i = 0; i < yd.length; i++) yd[i] = ad[i] + bd[i];
    }

    @Override
    public void padPlanes(Tensor y, Tensor x, int top, int left, boolean crop) {
        int[] g = Check.planes("padPlanes", y, x, top, left);
        double[] yd = d(y), xd = d(x);
        int h = g[1], w = g[2], hy = g[3], wy = g[4];
        for (int plane = 0; plane < g[0]; plane++) {
            for (int i = 0; i < hy; i++) {
                for (int j = 0; j < wy; j++) {
                    int at = (plane * hy + i) * wy + j;
                    boolean inside = i >= top && i < top + h && j >= left && j < left + w;
                    int from = inside ? (plane * h + i - top) * w + j - left : -1;
                    if (crop && inside) xd[from] = yd[at];
                    else if (!crop) yd[at] = inside ? xd[from] : 0;
                }
            }
        }
    }

    @Override
    public void copyChannels(Tensor y, Tensor x, int offset, boolean extract) {
        int[] g = Check.channels("copyChannels", y, x, offset);
        double[] yd = d(y), xd = d(x);
        int plane = g[3], block = g[2] * plane;
        for (int s = 0; s < g[0]; s++) {
            for (int i = 0; i < block; i++) {
                int at = (s * g[1] + offset) * plane + i;
                if (extract) xd[s * block + i] = yd[at];
                else yd[at] = xd[s * block + i];
            }
        }
    }

    @Override
    public double sum(Tensor x) {
        double s = 0;
        for (double v : d(x)) s += v;
        return s;
    }

    // ---------------------------------------------------------------- dense algebra

    @Override
    public void gemm(boolean transA, boolean transB, double alpha, Tensor a, Tensor b, double beta, Tensor c) {
        int[] mnk = Check.gemm(a, transA, b, transB, c);
        int m = mnk[0], n = mnk[1], k = mnk[2], aCols = a.shape().columns(), bCols = b.shape().columns();
        double[] ad = d(a), bd = d(b), cd = d(c);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    sum += (transA ? ad[p * aCols + i] : ad[i * aCols + p]) * (transB ? bd[j * bCols + p] : bd[p * bCols + j]);
                }
                cd[i * n + j] = alpha * sum + (beta == 0 ? 0 : beta * cd[i * n + j]);
            }
    }

    // ---------------------------------------------------------------- elementwise

    @Override
    public void activationForward(Activation f, Tensor y, Tensor x) {
        Check.sameSize("activationForward", "y", y, x);
        double[] yd = d(y), xd = d(x);
        for (int i = 0; i < xd.length; i++) yd[i] = f.apply(xd[i]);
    }

    @Override
    public void activationBackward(Activation f, Tensor dx, Tensor dy, Tensor x, Tensor y) {
        Check.sameSize("activationBackward", "dx", dx, x);
        Check.sameSize("activationBackward", "dy", dy, x);
        Check.sameSize("activationBackward", "y", y, x);
        double[] dxd = d(dx), dyd = d(dy), xd = d(x), yd = d(y);
        for (int i = 0; i < xd.length; i++) dxd[i] = dyd[i] * f.derivative(xd[i], yd[i]);
    }

    @Override
    public void softmaxForward(Tensor y, Tensor x) {
        Check.sameSize("softmaxForward", "y", y, x);
        int n = Check.rowsOf("softmaxForward", "x", x), m = x.shape().columns();
        double[] yd = d(y), xd = d(x);
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < m; j++) max = Math.max(max, xd[i * m + j]);
            for (int j = 0; j < m; j++) sum += Math.exp(xd[i * m + j] - max);
            for (int j = 0; j < m; j++) yd[i * m + j] = Math.exp(xd[i * m + j] - max) / sum;
        }
    }

    @Override
    public void softmaxBackward(Tensor dx, Tensor dy, Tensor y) {
        Check.sameSize("softmaxBackward", "dx", dx, y);
        Check.sameSize("softmaxBackward", "dy", dy, y);
        int n = Check.rowsOf("softmaxBackward", "y", y), m = y.shape().columns();
        double[] dxd = d(dx), dyd = d(dy), yd = d(y);
        for (int i = 0; i < n; i++) {
            // dx_j = Σ_l dy_l ∂y_l/∂x_j with ∂y_l/∂x_j = y_l (δ_lj − y_j).
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int l = 0; l < m; l++) s += dyd[i * m + l] * yd[i * m + l] * ((l == j ? 1 : 0) - yd[i * m + j]);
                dxd[i * m + j] = s;
            }
        }
    }

    @Override
    public void dropoutForward(Tensor y, Tensor mask, Tensor x, double p, long seed) {
        Check.sameSize("dropoutForward", "y", y, x);
        Check.sameSize("dropoutForward", "mask", mask, x);
        double[] yd = d(y), md = d(mask), xd = d(x);
        for (int i = 0; i < xd.length; i++) {
            md[i] = CounterRng.uniform(seed, i) < (float) p ? 0 : 1 / (1 - p);
            yd[i] = xd[i] * md[i];
        }
    }

    @Override
    public void dropoutBackward(Tensor dx, Tensor dy, Tensor mask) {
        Check.sameSize("dropoutBackward", "dx", dx, dy);
        Check.sameSize("dropoutBackward", "mask", mask, dy);
        double[] dxd = d(dx), dyd = d(dy), md = d(mask);
        for (int i = 0; i < dyd.length; i++) dxd[i] = dyd[i] * md[i];
    }

    // ---------------------------------------------------------------- losses and metrics

    @Override
    public void softmaxCrossEntropy(Tensor loss, Tensor dx, Tensor logits, Tensor labels, double gradScale) {
        int n = Check.loss("softmaxCrossEntropy", loss, dx, logits, labels, Shape.of(logits.shape().rows()));
        int m = logits.shape().columns();
        int[] label = ints(labels);
        Check.labels("softmaxCrossEntropy", label, 0, n, m);
        double[] x = d(logits), ld = d(loss);
        for (int i = 0; i < n; i++) {
            int off = i * m;
            // logsumexp(x_i) − x_i[label]: finite however small the label's probability (−log(softmax) is +∞ once it underflows)
            double max = x[off];
            for (int j = 1; j < m; j++) max = Math.max(max, x[off + j]);
            double sum = 0;
            for (int j = 0; j < m; j++) sum += Math.exp(x[off + j] - max);
            double logSum = max + Math.log(sum);
            ld[i] = logSum - x[off + label[i]];
            if (dx != null) {
                for (int j = 0; j < m; j++) d(dx)[off + j] = gradScale * (Math.exp(x[off + j] - logSum) - (j == label[i] ? 1 : 0));
            }
        }
    }

    @Override
    public void squaredError(Tensor loss, Tensor dy, Tensor y, Tensor target, double gradScale) {
        int n = Check.loss("squaredError", loss, dy, y, target, y.shape()), m = y.shape().columns();
        double[] yd = d(y), td = d(target), ld = d(loss);
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = i * m; j < (i + 1) * m; j++) {
                s += (td[j] - yd[j]) * (td[j] - yd[j]);
                if (dy != null) d(dy)[j] = gradScale * (yd[j] - td[j]);
            }
            ld[i] = 0.5 * s;
        }
    }

    @Override
    public void argmax(Tensor out, Tensor x) {
        int n = Check.rowsOf("argmax", "x", x), m = x.shape().columns();
        Check.shape("argmax", "out", out, Shape.of(n));
        double[] xd = d(x);
        int[] o = ints(out);
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < m; j++) if (xd[i * m + j] > xd[i * m + best]) best = j;
            o[i] = best;
        }
    }

    // ---------------------------------------------------------------- optimizers

    @Override
    public void recordStep(Tensor log, Tensor cursor, Tensor perSampleLoss, Tensor logits, Tensor labels) {
        int n = Check.stepLog(log, cursor, perSampleLoss, logits, labels);
        double[] loss = d(perSampleLoss), x = d(logits);
        int[] at = ints(cursor), truth = labels == null ? null : ints(labels);
        int classes = logits.shape().columns(), correct = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += loss[i];
            if (truth == null) continue;
            int best = 0;
            for (int j = 1; j < classes; j++) if (x[i * classes + j] > x[i * classes + best]) best = j;
            if (best == truth[i]) correct++;
        }
        int row = at[0]++;
        if (row < log.shape().rows()) {
            d(log)[2 * row] = sum / n;
            d(log)[2 * row + 1] = truth == null ? -1 : correct;
        }
    }
}
