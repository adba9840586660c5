package org.cnn4j.optim;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.Tensor;

/**
 * Updates parameters from their accumulated gradients. Each parameter's effective learning rate
 * is the optimizer's rate times the parameter's own multiplier, and likewise for weight decay
 * (SPEC.md §8). State (momentum, moments) lives on the parameter's backend, one set per parameter.
 */
public abstract class Optimizer {
    private double learningRate;
    private double weightDecay;
    private int steps;
    private final Map<Parameter, Tensor[]> state = new IdentityHashMap<>();

    protected Optimizer(double learningRate) {
        learningRate(learningRate);
    }

    public double learningRate() {
        return learningRate;
    }

    /** Changes the base learning rate (for schedules). */
    public Optimizer learningRate(double learningRate) {
        if (!(learningRate >= 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate must be a finite number >= 0, got " + learningRate);
        }
        this.learningRate = learningRate;
        return this;
    }

    public double weightDecay() {
        return weightDecay;
    }

    /** L2 weight decay λ: adds λ·w to each gradient (for Adam with decoupled decay, shrinks w instead). */
    public Optimizer weightDecay(double weightDecay) {
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight decay must be a finite number >= 0, got " + weightDecay);
        }
        this.weightDecay = weightDecay;
        return this;
    }

    /** Steps taken so far. */
    public int steps() {
        return steps;
    }

    /** Applies one update to every parameter. */
    public final void step(List<Parameter> parameters) {
        steps++;
        for (Parameter p : parameters) {
            Tensor[] s = state.computeIfAbsent(p, k -> newState(k.value()));
            update(p, s, learningRate * p.learningRateMultiplier(), weightDecay * p.weightDecayMultiplier(), steps);
        }
    }

    /** The optimizer's state tensors for a parameter (for checkpoints), or null before its first step. */
    public final Tensor[] state(Parameter p) {
        return state.get(p);
    }

    /** Fresh state tensors for a parameter value (zeros on its backend). */
    protected abstract Tensor[] newState(Tensor value);

    protected abstract void update(Parameter p, Tensor[] state, double lr, double weightDecay, int step);

    public abstract String describe();

    @Override
    public String toString() {
        return describe();
    }
}
