package org.cnn4j.backend.reference;

import java.util.Arrays;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.HostBackend;
import org.cnn4j.backend.Check;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.CounterRng;
import org.cnn4j.backend.PenaltyMath;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.backend.StepRates;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.DoubleTensor;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * The oracle: every operation as the plainest double-precision loop over its definition, one
 * thread, no blocking, no im2col. Slow by design. The tests compare the fast backends with it, and
 * the gradient checker runs models on it so that central differences are accurate to ~1e-10.
 *
 * <p>Sizes: n batch, c channels of h×w, k filters of r×s, output p×q (as throughout cnn4j).
 */
public final class ReferenceBackend extends HostBackend {

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

    private double[] d(Tensor t) {
        if (t instanceof DoubleTensor dt && dt.backend() == this) return dt.data();
        throw foreign(t, "a FLOAT64 tensor");
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
    public void batchNormTraining(Tensor y, Tensor saveMean, Tensor saveInvStd, Tensor x, Tensor gamma, Tensor beta,
                                  Tensor runningMean, Tensor runningVar, double momentum, double eps) {
        int[] g = Check.batchNorm("batchNormTraining", y, x, saveMean, saveInvStd, gamma, beta, runningMean, runningVar);
        int n = g[0], c = g[1], spatial = g[2], m = n * spatial;
        double[] yd = d(y), xd = d(x), mean = d(saveMean), inv = d(saveInvStd), rm = d(runningMean), rv = d(runningVar);
        for (int ch = 0; ch < c; ch++) {
            double sum = 0, squares = 0;
            for (int e = 0; e < m; e++) sum += xd[index(e, ch, c, spatial)];
            mean[ch] = sum / m;
            for (int e = 0; e < m; e++) squares += Math.pow(xd[index(e, ch, c, spatial)] - mean[ch], 2);
            double variance = squares / m;
            inv[ch] = 1 / Math.sqrt(variance + eps);
            rm[ch] = (1 - momentum) * rm[ch] + momentum * mean[ch];
            rv[ch] = (1 - momentum) * rv[ch] + momentum * (m > 1 ? variance * m / (m - 1) : variance);
            for (int e = 0; e < m; e++) {
                int i = index(e, ch, c, spatial);
                yd[i] = (xd[i] - mean[ch]) * inv[ch] * d(gamma)[ch] + d(beta)[ch];
            }
        }
    }

    @Override
    public void batchNormInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        int[] g = Check.batchNorm("batchNormInference", y, x, gamma, beta, runningMean, runningVar);
        double[] yd = d(y), xd = d(x), rm = d(runningMean), rv = d(runningVar);
        for (int i = 0; i < xd.length; i++) {
            int ch = i / g[2] % g[1];
            yd[i] = (xd[i] - rm[ch]) / Math.sqrt(rv[ch] + eps) * d(gamma)[ch] + d(beta)[ch];
        }
    }

    @Override
    public void batchNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma, Tensor saveMean, Tensor saveInvStd) {
        int[] g = Check.batchNorm("batchNormBackward", dx, x, dgamma, dbeta, gamma, saveMean, saveInvStd);
        Check.sameSize("batchNormBackward", "dy", dy, x);
        int c = g[1], spatial = g[2], m = g[0] * spatial;
        double[] dxd = d(dx), dyd = d(dy), xd = d(x), mean = d(saveMean), inv = d(saveInvStd);
        for (int ch = 0; ch < c; ch++) {
            double sumDy = 0, sumDyXhat = 0;
            for (int e = 0; e < m; e++) {
                int i = index(e, ch, c, spatial);
                sumDy += dyd[i];
                sumDyXhat += dyd[i] * (xd[i] - mean[ch]) * inv[ch];
            }
            d(dgamma)[ch] += sumDyXhat;
            d(dbeta)[ch] += sumDy;
            for (int e = 0; e < m; e++) {
                int i = index(e, ch, c, spatial);
                dxd[i] = d(gamma)[ch] * inv[ch] * (dyd[i] - sumDy / m - (xd[i] - mean[ch]) * inv[ch] * sumDyXhat / m);
            }
        }
    }

    /** Index of value e (0 ≤ e &lt; n·spatial) of channel ch in (n, c, spatial). */
    private static int index(int e, int ch, int c, int spatial) {
        return (e / spatial * c + ch) * spatial + e % spatial;
    }

    @Override
    public double sum(Tensor x) {
        double s = 0;
        for (double v : d(x)) s += v;
        return s;
    }

    // ---------------------------------------------------------------- convolution

    /** Input row read by output row p through filter row r, or -1 when it falls in the padding. */
    private static int inRow(ConvGeometry g, int p, int r) {
        int ih = p * g.strideH() - g.padH() + r * g.dilationH();
        return ih >= 0 && ih < g.h() ? ih : -1;
    }

    private static int inCol(ConvGeometry g, int q, int s) {
        int iw = q * g.strideW() - g.padW() + s * g.dilationW();
        return iw >= 0 && iw < g.w() ? iw : -1;
    }

    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, ConvGeometry g) {
        Check.conv("convForward", y, x, w, g);
        double[] yd = d(y), xd = d(x), wd = d(w);
        int n = x.shape().n();
        for (int i = 0; i < n; i++)
            for (int k = 0; k < g.k(); k++)
                for (int p = 0; p < g.p(); p++)
                    for (int q = 0; q < g.q(); q++) {
                        double sum = 0;
                        for (int c = 0; c < g.c(); c++)
                            for (int r = 0; r < g.r(); r++)
                                for (int s = 0; s < g.s(); s++) {
                                    int ih = inRow(g, p, r), iw = inCol(g, q, s);
                                    if (ih < 0 || iw < 0) continue;
                                    sum += xd[((i * g.c() + c) * g.h() + ih) * g.w() + iw]
                                            * wd[((k * g.c() + c) * g.r() + r) * g.s() + s];
                                }
                        yd[((i * g.k() + k) * g.p() + p) * g.q() + q] = sum;
                    }
    }

    /** dx(i,c,ih,iw) = Σ over (k, p, q, r, s) with that (ih, iw) of dy(i,k,p,q)·w(k,c,r,s): the forward's adjoint. */
    @Override
    public void convBackwardData(Tensor dx, Tensor dy, Tensor w, ConvGeometry g) {
        Check.conv("convBackwardData", dy, dx, w, g);
        double[] dxd = d(dx), dyd = d(dy), wd = d(w);
        Arrays.fill(dxd, 0);
        int n = dx.shape().n();
        for (int i = 0; i < n; i++)
            for (int k = 0; k < g.k(); k++)
                for (int p = 0; p < g.p(); p++)
                    for (int q = 0; q < g.q(); q++) {
                        double delta = dyd[((i * g.k() + k) * g.p() + p) * g.q() + q];
                        for (int c = 0; c < g.c(); c++)
                            for (int r = 0; r < g.r(); r++)
                                for (int s = 0; s < g.s(); s++) {
                                    int ih = inRow(g, p, r), iw = inCol(g, q, s);
                                    if (ih < 0 || iw < 0) continue;
                                    dxd[((i * g.c() + c) * g.h() + ih) * g.w() + iw]
                                            += delta * wd[((k * g.c() + c) * g.r() + r) * g.s() + s];
                                }
                    }
    }

    @Override
    public void convBackwardFilter(Tensor dw, Tensor x, Tensor dy, ConvGeometry g) {
        Check.conv("convBackwardFilter", dy, x, dw, g);
        double[] dwd = d(dw), xd = d(x), dyd = d(dy);
        int n = x.shape().n();
        for (int k = 0; k < g.k(); k++)
            for (int c = 0; c < g.c(); c++)
                for (int r = 0; r < g.r(); r++)
                    for (int s = 0; s < g.s(); s++) {
                        double sum = 0;
                        for (int i = 0; i < n; i++)
                            for (int p = 0; p < g.p(); p++)
                                for (int q = 0; q < g.q(); q++) {
                                    int ih = inRow(g, p, r), iw = inCol(g, q, s);
                                    if (ih < 0 || iw < 0) continue;
                                    sum += xd[((i * g.c() + c) * g.h() + ih) * g.w() + iw]
                                            * dyd[((i * g.k() + k) * g.p() + p) * g.q() + q];
                                }
                        dwd[((k * g.c() + c) * g.r() + r) * g.s() + s] += sum;
                    }
    }

    @Override
    public void addBias(Tensor y, Tensor b) {
        int plane = biasPlane("addBias", y, b), k = b.size();
        double[] yd = d(y), bd = d(b);
        for (int j = 0; j < yd.length; j++) yd[j] += bd[(j / plane) % k];
    }

    @Override
    public void biasBackward(Tensor db, Tensor dy) {
        int plane = biasPlane("biasBackward", dy, db), k = db.size();
        double[] out = d(db), dyd = d(dy);
        for (int j = 0; j < dyd.length; j++) out[(j / plane) % k] += dyd[j];
    }

    // ---------------------------------------------------------------- pooling and subsampling

    /** The input element read at window tap (a, b) of output (p, q), or -1 in the padding. */
    private static int tap(PoolGeometry g, int p, int q, int a, int b) {
        int ih = p * g.strideH() - g.padH() + a, iw = q * g.strideW() - g.padW() + b;
        return ih >= 0 && ih < g.h() && iw >= 0 && iw < g.w() ? ih * g.w() + iw : -1;
    }

    @Override
    public void maxPoolForward(Tensor y, Tensor mask, Tensor x, PoolGeometry g) {
        Check.pool("maxPoolForward", y, x, g);
        Check.shape("maxPoolForward", "mask", mask, y.shape());
        double[] yd = d(y), xd = d(x);
        int[] md = ints(mask);
        int planes = x.shape().n() * g.c(), hw = g.h() * g.w();
        for (int plane = 0; plane < planes; plane++)
            for (int p = 0; p < g.p(); p++)
                for (int q = 0; q < g.q(); q++) {
                    int best = -1;
                    for (int a = 0; a < g.windowH(); a++)
                        for (int b = 0; b < g.windowW(); b++) {
                            int t = tap(g, p, q, a, b);
                            if (t < 0) continue;
                            double v = xd[plane * hw + t];
                            if (best < 0 || v > xd[plane * hw + best] || Double.isNaN(v)) best = t;
                        }
                    int o = (plane * g.p() + p) * g.q() + q;
                    yd[o] = xd[plane * hw + best];
                    md[o] = best;
                }
    }

    @Override
    public void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, PoolGeometry g) {
        Check.pool("maxPoolBackward", dy, dx, g);
        Check.shape("maxPoolBackward", "mask", mask, dy.shape());
        double[] dxd = d(dx), dyd = d(dy);
        int[] md = ints(mask);
        Arrays.fill(dxd, 0);
        int pq = g.p() * g.q(), hw = g.h() * g.w();
        for (int o = 0; o < dyd.length; o++) dxd[(o / pq) * hw + md[o]] += dyd[o];
    }

    @Override
    public void avgPoolForward(Tensor y, Tensor x, PoolGeometry g) {
        Check.pool("avgPoolForward", y, x, g);
        windowSums(d(y), d(x), x.shape().n() * g.c(), g);
        double[] yd = d(y);
        for (int o = 0; o < yd.length; o++) yd[o] /= g.windowH() * g.windowW();
    }

    @Override
    public void avgPoolBackward(Tensor dx, Tensor dy, PoolGeometry g) {
        Check.pool("avgPoolBackward", dy, dx, g);
        double[] dxd = d(dx), dyd = d(dy);
        Arrays.fill(dxd, 0);
        int planes = dx.shape().n() * g.c(), hw = g.h() * g.w();
        for (int plane = 0; plane < planes; plane++)
            for (int p = 0; p < g.p(); p++)
                for (int q = 0; q < g.q(); q++)
                    for (int a = 0; a < g.windowH(); a++)
                        for (int b = 0; b < g.windowW(); b++) {
                            int t = tap(g, p, q, a, b);
                            if (t >= 0) {
                                dxd[plane * hw + t] += dyd[(plane * g.p() + p) * g.q() + q] / (g.windowH() * g.windowW());
                            }
                        }
    }

    private static void windowSums(double[] out, double[] x, int planes, PoolGeometry g) {
        int hw = g.h() * g.w();
        for (int plane = 0; plane < planes; plane++)
            for (int p = 0; p < g.p(); p++)
                for (int q = 0; q < g.q(); q++) {
                    double sum = 0;
                    for (int a = 0; a < g.windowH(); a++)
                        for (int b = 0; b < g.windowW(); b++) {
                            int t = tap(g, p, q, a, b);
                            if (t >= 0) sum += x[plane * hw + t];
                        }
                    out[(plane * g.p() + p) * g.q() + q] = sum;
                }
    }

    @Override
    public void subsampleForward(Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g) {
        Check.subsample("subsampleForward", y, x, beta, b, g);
        double[] yd = d(y), betad = d(beta), bd = d(b);
        windowSums(yd, d(x), x.shape().n() * g.c(), g);
        int pq = g.p() * g.q();
        for (int o = 0; o < yd.length; o++) {
            int c = (o / pq) % g.c();
            yd[o] = betad[c] * yd[o] + bd[c];
        }
    }

    @Override
    public void subsampleBackward(Tensor dx, Tensor dbeta, Tensor db, Tensor dy, Tensor x, Tensor beta, PoolGeometry g) {
        Check.subsample("subsampleBackward", dy, x, dbeta, db, g);
        Check.shape("subsampleBackward", "dx", dx, x.shape());
        Check.shape("subsampleBackward", "beta", beta, dbeta.shape());
        double[] dxd = d(dx), dbetad = d(dbeta), dbd = d(db), dyd = d(dy), betad = d(beta);
        int planes = x.shape().n() * g.c(), pq = g.p() * g.q(), hw = g.h() * g.w();
        double[] down = new double[dyd.length];
        windowSums(down, d(x), planes, g);
        Arrays.fill(dxd, 0);
        for (int plane = 0; plane < planes; plane++) {
            int c = plane % g.c();
            for (int p = 0; p < g.p(); p++)
                for (int q = 0; q < g.q(); q++) {
                    int o = (plane * g.p() + p) * g.q() + q;
                    dbd[c] += dyd[o];
                    dbetad[c] += dyd[o] * down[o];
                    for (int a = 0; a < g.windowH(); a++)
                        for (int b = 0; b < g.windowW(); b++) {
                            int t = tap(g, p, q, a, b);
                            if (t >= 0) dxd[plane * hw + t] += betad[c] * dyd[o];
                        }
                }
        }
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

    // ---------------------------------------------------------------- learned feature-map combinations

    @Override
    public void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c) {
        int outMaps = k.shape().dim(0), inMaps = k.shape().dim(1), taps = k.size() / (outMaps * inMaps);
        Check.combination("combinationForward", k, alpha, c, wEff);
        softmaxForward(alpha, c);
        double[] a = d(alpha), kd = d(k), wd = d(wEff);
        for (int t = 0; t < kd.length; t++) wd[t] = a[t / taps] * kd[t];
    }

    @Override
    public void combinationBackward(Tensor dk, Tensor dc, Tensor dwEff, Tensor alpha, Tensor k,
                                    CombinationPenalty penalty, double lambda) {
        int outMaps = k.shape().dim(0), inMaps = k.shape().dim(1), taps = k.size() / (outMaps * inMaps);
        Check.combination("combinationBackward", k, alpha, dc, dwEff);
        Check.shape("combinationBackward", "dk", dk, k.shape());
        double[] a = d(alpha), kd = d(k), dkd = d(dk), dcd = d(dc), dw = d(dwEff);
        double[] dAlpha = new double[a.length];
        for (int t = 0; t < kd.length; t++) {
            dkd[t] += a[t / taps] * dw[t];
            dAlpha[t / taps] += kd[t] * dw[t];
        }
        double[] penaltyGrad = new double[inMaps];
        for (int j = 0; j < outMaps; j++) {
            PenaltyMath.gradient(penaltyGrad, a, j * inMaps, inMaps, penalty, lambda);
            // Bouvrie's notes, eq. (9): ∂E/∂c_i = Σ_l ∂E/∂α_l · ∂α_l/∂c_i with ∂α_l/∂c_i = α_i (δ_li − α_l).
            for (int i = 0; i < inMaps; i++) {
                double s = 0;
                for (int l = 0; l < inMaps; l++) {
                    s += dAlpha[j * inMaps + l] * a[j * inMaps + i] * ((l == i ? 1 : 0) - a[j * inMaps + l]);
                }
                dcd[j * inMaps + i] += s + penaltyGrad[i];
            }
        }
    }

    @Override
    public double combinationPenalty(Tensor alpha, CombinationPenalty penalty, double lambda) {
        int outMaps = alpha.shape().rows(), inMaps = alpha.shape().columns();
        double total = 0;
        for (int j = 0; j < outMaps; j++) total += PenaltyMath.value(d(alpha), j * inMaps, inMaps, penalty, lambda);
        return total;
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

    @Override
    public void sgdStep(Tensor w, Tensor velocity, Tensor dw, Tensor rates, int row, double momentum, boolean nesterov) {
        Check.sameSize("sgdStep", "dw", dw, w);
        int at = StepRates.offset("sgdStep", rates, row);
        double lr = d(rates)[at + StepRates.LEARNING_RATE], weightDecay = d(rates)[at + StepRates.WEIGHT_DECAY];
        double[] wd = d(w), g = d(dw), v = momentum != 0 ? d(velocity) : null;
        for (int i = 0; i < wd.length; i++) {
            double grad = g[i] + weightDecay * wd[i];
            if (v != null) {
                v[i] = momentum * v[i] + grad;
                grad = nesterov ? grad + momentum * v[i] : v[i];
            }
            wd[i] -= lr * grad;
        }
    }

    /** Adam from lr, weightDecay and t alone: the derived columns of the rates are the other backends' business. */
    @Override
    public void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, Tensor rates, int row, double beta1, double beta2, double eps,
                         boolean decoupled) {
        Check.sameSize("adamStep", "dw", dw, w);
        int at = StepRates.offset("adamStep", rates, row);
        double lr = d(rates)[at + StepRates.LEARNING_RATE], weightDecay = d(rates)[at + StepRates.WEIGHT_DECAY];
        double t = d(rates)[at + StepRates.STEP];
        if (t < 1) throw new IllegalArgumentException("adamStep: step t must be >= 1, got " + t);
        double[] wd = d(w), g = d(dw), md = d(m), vd = d(v);
        for (int i = 0; i < wd.length; i++) {
            double grad = decoupled ? g[i] : g[i] + weightDecay * wd[i];
            if (decoupled) wd[i] *= 1 - lr * weightDecay;
            md[i] = beta1 * md[i] + (1 - beta1) * grad;
            vd[i] = beta2 * vd[i] + (1 - beta2) * grad * grad;
            double mHat = md[i] / (1 - Math.pow(beta1, t)), vHat = vd[i] / (1 - Math.pow(beta2, t));
            wd[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
        }
    }
}
