package org.cnn4j.optim;

import java.util.Map;

import org.cnn4j.backend.StepRates;
import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.Tensor;

/**
 * Adam (Kingma and Ba, 2015) as PyTorch computes it, with bias correction. Weight decay is L2
 * (added to the gradient) by default; {@link #decoupled(boolean)} makes it AdamW's decoupled decay.
 */
public final class Adam extends Optimizer {
    private double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    private boolean decoupled;

    public Adam(double learningRate) {
        super(learningRate);
    }

    public Adam betas(double beta1, double beta2) {
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("Adam betas must be in [0, 1), got " + beta1 + ", " + beta2);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        return this;
    }

    public Adam eps(double eps) {
        if (!(eps > 0)) throw new IllegalArgumentException("Adam eps must be > 0, got " + eps);
        this.eps = eps;
        return this;
    }

    public Adam decoupled(boolean on) {
        this.decoupled = on;
        return this;
    }

    @Override
    public Adam weightDecay(double weightDecay) {
        super.weightDecay(weightDecay);
        return this;
    }

    @Override
    protected Tensor[] newState(Tensor value) {
        return new Tensor[] {value.backend().allocate(value.shape()), value.backend().allocate(value.shape())};
    }

    @Override
    protected double[] rates(double lr, double weightDecay, int step) {
        return StepRates.adam(lr, weightDecay, step, beta1, beta2, decoupled);
    }

    @Override
    protected void update(Parameter p, Tensor[] state, Tensor rates, int row) {
        p.value().backend().adamStep(p.value(), state[0], state[1], p.gradient(), rates, row, beta1, beta2, eps, decoupled);
    }

    @Override
    protected void settings(Map<String, Object> c) {
        c.put("beta1", beta1);
        c.put("beta2", beta2);
        c.put("eps", eps);
        c.put("decoupled", decoupled);
    }

    @Override
    public String describe() {
        return (decoupled ? "AdamW" : "Adam") + " lr=" + learningRate() + " betas=(" + beta1 + ", " + beta2 + ") eps=" + eps
                + (weightDecay() != 0 ? " weight_decay=" + weightDecay() + (decaysBiasesAndNorms() ? "" : " (weights only)") : "");
    }
}
