package org.cnn4j.backend.reference;

import java.util.Arrays;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.backend.FeatureMapOps;
import org.cnn4j.backend.PenaltyMath;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.tensor.Tensor;

/** Subsampling and learned feature-map combinations on the reference backend. */
final class ReferenceFeatureMapOps extends ReferenceOps implements FeatureMapOps {
    ReferenceFeatureMapOps(ReferenceBackend backend) {
        super(backend);
    }

    @Override
    public void subsampleForward(Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g) {
        Check.subsample("subsampleForward", y, x, beta, b, g);
        double[] yd = d(y), betad = d(beta), bd = d(b);
        ReferencePoolingOps.windowSums(yd, d(x), x.shape().n() * g.c(), g);
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
        ReferencePoolingOps.windowSums(down, d(x), planes, g);
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
                            int t = ReferencePoolingOps.tap(g, p, q, a, b);
                            if (t >= 0) dxd[plane * hw + t] += betad[c] * dyd[o];
                        }
                }
        }
    }

    @Override
    public void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c) {
        int outMaps = k.shape().dim(0), inMaps = k.shape().dim(1), taps = k.size() / (outMaps * inMaps);
        Check.combination("combinationForward", k, alpha, c, wEff);
        backend.softmaxForward(alpha, c);
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
}
