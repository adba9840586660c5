package org.cnn4j.backend.reference;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.NormalizationOps;
import org.cnn4j.tensor.Tensor;

/** Batch normalisation on the reference backend, as plain double-precision loops. */
final class ReferenceNormalizationOps extends ReferenceOps implements NormalizationOps {
    ReferenceNormalizationOps(ReferenceBackend backend) {
        super(backend);
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
}
