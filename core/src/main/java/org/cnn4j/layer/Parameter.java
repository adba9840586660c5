package org.cnn4j.layer;

import org.cnn4j.tensor.Tensor;

/**
 * A trainable tensor with its gradient and its own learning-rate and weight-decay multipliers
 * (Bouvrie's notes ask for a learning rate per weight; cnn4j gives one per parameter tensor, set per
 * layer by default). The gradient accumulates over backward passes until the model zeroes it.
 */
public final class Parameter {
    private final String name;
    private final Tensor value;
    private final Tensor gradient;
    private double learningRateMultiplier;
    private double weightDecayMultiplier;
    private final boolean normalisation;

    Parameter(String name, Tensor value, Tensor gradient, double learningRateMultiplier, double weightDecayMultiplier, boolean normalisation) {
        this.normalisation = normalisation;
        this.name = name;
        this.value = value;
        this.gradient = gradient;
        this.learningRateMultiplier = learningRateMultiplier;
        this.weightDecayMultiplier = weightDecayMultiplier;
    }

    /** Whether this is a normalisation layer's γ or β, which optimizers may leave undecayed ({@link org.cnn4j.optim.Optimizer#decayBiasesAndNorms}). */
    public boolean normalisation() {
        return normalisation;
    }

    /** "layer.weight", unique within a model. */
    public String name() {
        return name;
    }

    public Tensor value() {
        return value;
    }

    public Tensor gradient() {
        return gradient;
    }

    public double learningRateMultiplier() {
        return learningRateMultiplier;
    }

    public double weightDecayMultiplier() {
        return weightDecayMultiplier;
    }

    public Parameter learningRateMultiplier(double multiplier) {
        this.learningRateMultiplier = requireNonNegative("learning-rate multiplier", multiplier);
        return this;
    }

    public Parameter weightDecayMultiplier(double multiplier) {
        this.weightDecayMultiplier = requireNonNegative("weight-decay multiplier", multiplier);
        return this;
    }

    static double requireNonNegative(String what, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) throw new IllegalArgumentException(what + " must be a finite number >= 0, got " + v);
        return v;
    }

    @Override
    public String toString() {
        return name + value.shape();
    }
}
