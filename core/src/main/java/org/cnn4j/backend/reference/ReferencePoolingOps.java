package org.cnn4j.backend.reference;

import java.util.Arrays;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.backend.PoolingOps;
import org.cnn4j.tensor.Tensor;

/** Max and average pooling on the reference backend, window by window. */
final class ReferencePoolingOps extends ReferenceOps implements PoolingOps {
    ReferencePoolingOps(ReferenceBackend backend) {
        super(backend);
    }

    private int[] ints(Tensor t) {
        return backend.intsOf(t);
    }

    /** The input element read at window tap (a, b) of output (p, q), or -1 in the padding. */
    static int tap(PoolGeometry g, int p, int q, int a, int b) {
        int ih = p * g.strideH() - g.padH() + a * g.dilationH(), iw = q * g.strideW() - g.padW() + b * g.dilationW();
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

    static void windowSums(double[] out, double[] x, int planes, PoolGeometry g) {
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
}
