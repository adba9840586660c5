package org.cnn4j.backend.cpu;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.NormalizationOps;
import org.cnn4j.tensor.Tensor;

/** Batch normalisation on the CPU backend: checks, then {@link CpuNormalization}'s loops. */
final class CpuNormalizationOps extends CpuOps implements NormalizationOps {

    CpuNormalizationOps(CpuBackend backend, Parallel parallel) {
        super(backend, parallel);
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
}
