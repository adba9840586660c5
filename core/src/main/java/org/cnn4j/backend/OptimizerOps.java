package org.cnn4j.backend;

import java.util.List;

import org.cnn4j.tensor.Tensor;

/** The optimizer family of {@link Backend}'s operations: the parameter updates of SGD and Adam, as PyTorch's. */
public interface OptimizerOps {

    /**
     * SGD as PyTorch defines it, with lr and weightDecay from row {@code row} of {@code rates}
     * ({@link StepRates}): g = dw + weightDecay·w; v = momentum·v + g;
     * step = nesterov ? g + momentum·v : v (just g when momentum is 0, and velocity may be null);
     * w −= lr · step.
     */
    void sgdStep(Tensor w, Tensor velocity, Tensor dw, Tensor rates, int row, double momentum, boolean nesterov);

    /**
     * {@link #sgdStep(Tensor, Tensor, Tensor, Tensor, int, double, boolean)} for parameter i of the
     * lists with row i of rates (velocities may be null without momentum); backends may update them
     * all in one launch, with the same arithmetic.
     */
    default void sgdSteps(List<Tensor> w, List<Tensor> velocity, List<Tensor> dw, Tensor rates, double momentum,
                          boolean nesterov) {
        for (int i = 0; i < w.size(); i++) sgdStep(w.get(i), velocity.get(i), dw.get(i), rates, i, momentum, nesterov);
    }

    /**
     * Adam (Kingma and Ba) at step t ≥ 1, as PyTorch, with lr, weightDecay, t and the derived
     * constants from row {@code row} of {@code rates} ({@link StepRates}): g = dw (+ weightDecay·w
     * unless decoupled); m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
     * w −= lr · (m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps); decoupled (AdamW) first multiplies w by
     * (1 − lr·weightDecay).
     */
    void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, Tensor rates, int row, double beta1, double beta2, double eps, boolean decoupled);
}
