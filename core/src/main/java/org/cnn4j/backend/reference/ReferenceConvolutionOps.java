package org.cnn4j.backend.reference;

import java.util.Arrays;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.ConvolutionOps;
import org.cnn4j.backend.HostBackend;
import org.cnn4j.tensor.Tensor;

/** The convolution and its bias on the reference backend: the definitions as nested loops. */
final class ReferenceConvolutionOps extends ReferenceOps implements ConvolutionOps {
    ReferenceConvolutionOps(ReferenceBackend backend) {
        super(backend);
    }

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
        int plane = HostBackend.biasPlane("addBias", y, b), k = b.size();
        double[] yd = d(y), bd = d(b);
        for (int j = 0; j < yd.length; j++) yd[j] += bd[(j / plane) % k];
    }

    @Override
    public void biasBackward(Tensor db, Tensor dy) {
        int plane = HostBackend.biasPlane("biasBackward", dy, db), k = db.size();
        double[] out = d(db), dyd = d(dy);
        for (int j = 0; j < dyd.length; j++) out[(j / plane) % k] += dyd[j];
    }
}
