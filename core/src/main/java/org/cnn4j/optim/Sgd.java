package org.cnn4j.optim;

import java.util.List;
import java.util.Map;

import org.cnn4j.backend.StepRates;
import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.Tensor;

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay, with
 * PyTorch's update rule: g = dw + λw; v = μv + g; w −= lr · (nesterov ? g + μv : v).
 */
public final class Sgd extends Optimizer {
    private double momentum;
    private boolean nesterov;

    public Sgd(double learningRate) {
        super(learningRate);
    }

    public Sgd momentum(double momentum) {
        if (!(momentum >= 0 && momentum < 1)) throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
        this.momentum = momentum;
        return this;
    }

    public Sgd nesterov(boolean on) {
        this.nesterov = on;
        return this;
    }

    @Override
    public Sgd weightDecay(double weightDecay) {
        super.weightDecay(weightDecay);
        return this;
    }

    @Override
    protected Tensor[] newState(Tensor value) {
        return momentum == 0 ? new Tensor[0] : new Tensor[] {value.backend().allocate(value.shape())};
    }

    @Override
    protected double[] rates(double lr, double weightDecay, int step) {
        if (nesterov && momentum == 0) throw new IllegalStateException("Nesterov momentum needs momentum > 0");
        return StepRates.sgd(lr, weightDecay, step);
    }

    /** All parameters in one call, which the GPU runs as one launch. */
    @Override
    protected void update(List<Parameter> parameters, List<Tensor[]> states, Tensor rates) {
        List<Tensor> velocities = states.stream().map(s -> s.length == 0 ? null : s[0]).toList();
        parameters.get(0).value().backend().sgdSteps(parameters.stream().map(Parameter::value).toList(), velocities,
                parameters.stream().map(Parameter::gradient).toList(), rates, momentum, nesterov);
    }

    @Override
    protected void update(Parameter p, Tensor[] state, Tensor rates, int row) {
        Tensor velocity = state.length == 0 ? null : state[0];
        p.value().backend().sgdStep(p.value(), velocity, p.gradient(), rates, row, velocity == null ? 0 : momentum, nesterov);
    }

    @Override
    protected void settings(Map<String, Object> c) {
        c.put("momentum", momentum);
        c.put("nesterov", nesterov);
    }

    @Override
    public String describe() {
        return "SGD lr=" + learningRate() + (momentum != 0 ? " momentum=" + momentum : "") + (nesterov ? " nesterov" : "")
                + (weightDecay() != 0 ? " weight_decay=" + weightDecay() + (decaysBiasesAndNorms() ? "" : " (weights only)") : "");
    }
}
