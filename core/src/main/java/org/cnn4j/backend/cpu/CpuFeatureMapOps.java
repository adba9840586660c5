package org.cnn4j.backend.cpu;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.backend.FeatureMapOps;
import org.cnn4j.backend.PenaltyMath;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.tensor.Tensor;

/** Subsampling (with {@link CpuPooling}'s kernels) and learned feature-map combinations on the CPU backend. */
final class CpuFeatureMapOps extends CpuOps implements FeatureMapOps {
    private final CpuPooling pooling;

    CpuFeatureMapOps(CpuBackend backend, Parallel parallel) {
        super(backend, parallel);
        this.pooling = new CpuPooling(parallel);
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

    @Override
    public void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c) {
        int outMaps = k.shape().dim(0), inMaps = k.shape().dim(1), taps = k.size() / (outMaps * inMaps);
        Check.combination("combinationForward", k, alpha, c, wEff);
        backend.softmaxForward(alpha, c);
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
        double[] a = backend.downloadDoubles(alpha);
        double total = 0;
        for (int j = 0; j < outMaps; j++) total += PenaltyMath.value(a, j * inMaps, inMaps, penalty, lambda);
        return total;
    }
}
