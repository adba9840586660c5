package org.cnn4j.backend.cuda;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.NormalizationOps;
import org.cnn4j.tensor.Tensor;

/** Batch normalisation on the GPU: the PTX kernels of normalization.ptx, sums in double, one block per channel. */
final class CudaNormalizationOps extends CudaOps implements NormalizationOps {
    CudaNormalizationOps(CudaBackend backend) {
        super(backend);
    }

    @Override
    public void batchNormTraining(Tensor y, Tensor saveMean, Tensor saveInvStd, Tensor x, Tensor gamma, Tensor beta,
                                  Tensor runningMean, Tensor runningVar, double momentum, double eps) {
        current();
        String op = "batchNormTraining";
        int[] g = Check.batchNorm(op, y, x, saveMean, saveInvStd, gamma, beta, runningMean, runningVar);
        backend.driver.launch("batchnorm_training", g[1], 256, 0, t(y, op, "y").pointer(), t(saveMean, op, "saveMean").pointer(),
                t(saveInvStd, op, "saveInvStd").pointer(), t(runningMean, op, "runningMean").pointer(), t(runningVar, op, "runningVar").pointer(),
                t(x, op, "x").pointer(), t(gamma, op, "gamma").pointer(), t(beta, op, "beta").pointer(), g[0], g[1], g[2], momentum, eps);
    }

    @Override
    public void batchNormInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        current();
        String op = "batchNormInference";
        int[] g = Check.batchNorm(op, y, x, gamma, beta, runningMean, runningVar);
        launch("batchnorm_inference", x.size(), t(y, op, "y").pointer(), t(x, op, "x").pointer(), t(gamma, op, "gamma").pointer(),
                t(beta, op, "beta").pointer(), t(runningMean, op, "runningMean").pointer(), t(runningVar, op, "runningVar").pointer(),
                x.size(), g[1], g[2], (float) eps);
    }

    @Override
    public void batchNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma, Tensor saveMean, Tensor saveInvStd) {
        current();
        String op = "batchNormBackward";
        int[] g = Check.batchNorm(op, dx, x, dgamma, dbeta, gamma, saveMean, saveInvStd);
        Check.sameSize(op, "dy", dy, x);
        backend.driver.launch("batchnorm_backward", g[1], 256, 0, t(dx, op, "dx").pointer(), t(dgamma, op, "dgamma").pointer(),
                t(dbeta, op, "dbeta").pointer(), t(dy, op, "dy").pointer(), t(x, op, "x").pointer(), t(gamma, op, "gamma").pointer(),
                t(saveMean, op, "saveMean").pointer(), t(saveInvStd, op, "saveInvStd").pointer(), g[0], g[1], g[2]);
    }
}
