package org.cnn4j.backend.cpu;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.OptimizerOps;
import org.cnn4j.backend.StepRates;
import org.cnn4j.tensor.Tensor;

/** SGD and Adam updates on the CPU backend, element by element in parallel pieces. */
final class CpuOptimizerOps extends CpuOps implements OptimizerOps {

    CpuOptimizerOps(CpuBackend backend, Parallel parallel) {
        super(backend, parallel);
    }

    @Override
    public void sgdStep(Tensor w, Tensor velocity, Tensor dw, Tensor rates, int row, double momentum, boolean nesterov) {
        Check.sameSize("sgdStep", "dw", dw, w);
        if (momentum != 0) Check.sameSize("sgdStep", "velocity", velocity, w);
        int at = StepRates.offset("sgdStep", rates, row);
        float[] wd = f(w), g = f(dw), v = momentum != 0 ? f(velocity) : null, r = f(rates);
        float rate = r[at + StepRates.LEARNING_RATE], mu = (float) momentum, decay = r[at + StepRates.WEIGHT_DECAY];
        parallel.forRange(w.size(), CpuBackend.ELEMENT_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float grad = g[i] + decay * wd[i];
                if (v != null) {
                    v[i] = mu * v[i] + grad;
                    grad = nesterov ? grad + mu * v[i] : v[i];
                }
                wd[i] -= rate * grad;
            }
        });
    }

    @Override
    public void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, Tensor rates, int row, double beta1, double beta2, double eps,
                         boolean decoupled) {
        Check.sameSize("adamStep", "dw", dw, w);
        Check.sameSize("adamStep", "m", m, w);
        Check.sameSize("adamStep", "v", v, w);
        int at = StepRates.offset("adamStep", rates, row);
        float[] wd = f(w), g = f(dw), md = f(m), vd = f(v), r = f(rates);
        float b1 = (float) beta1, b2 = (float) beta2, e = (float) eps, decay = r[at + StepRates.WEIGHT_DECAY];
        float stepSize = r[at + StepRates.ADAM_STEP_SIZE], correction2 = r[at + StepRates.ADAM_CORRECTION2];
        float shrink = decoupled ? r[at + StepRates.ADAM_SHRINK] : 1f;
        parallel.forRange(w.size(), CpuBackend.ELEMENT_GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float grad = decoupled ? g[i] : g[i] + decay * wd[i];
                md[i] = b1 * md[i] + (1 - b1) * grad;
                vd[i] = b2 * vd[i] + (1 - b2) * grad * grad;
                wd[i] = wd[i] * shrink - stepSize * md[i] / ((float) Math.sqrt(vd[i]) / correction2 + e);
            }
        });
    }
}
