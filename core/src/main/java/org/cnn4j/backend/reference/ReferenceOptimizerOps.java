package org.cnn4j.backend.reference;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.OptimizerOps;
import org.cnn4j.backend.StepRates;
import org.cnn4j.tensor.Tensor;

/** SGD and Adam updates on the reference backend, in double precision. */
final class ReferenceOptimizerOps extends ReferenceOps implements OptimizerOps {
    ReferenceOptimizerOps(ReferenceBackend backend) {
        super(backend);
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
