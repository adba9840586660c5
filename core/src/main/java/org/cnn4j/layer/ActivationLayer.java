package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.Activation;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * An elementwise activation y = f(x) of any shape; backward dx = dy ∘ f'(x). The named
 * subclasses ({@link ReLU}, {@link LeakyReLU}, {@link SiLU}, {@link GELU}, {@link Sigmoid}, {@link Tanh},
 * {@link ScaledTanh}) are what models use.
 */
public class ActivationLayer extends Layer {
    private final Activation function;
    private Tensor x, y;
    private boolean fused;

    public ActivationLayer(Activation function) {
        this.function = function;
    }

    public Activation function() {
        return function;
    }

    @Override
    protected void settings(Map<String, Object> s) {
        if (getClass() == ActivationLayer.class) s.put("function", function.kind().name()); // subclasses say it by their type
        if (function.kind() == Activation.Kind.LEAKY_RELU) s.put("slope", function.slope());
    }

    /** The layer {@link #settings} describes, for the generic class (the subclasses have no settings but LeakyReLU's slope). */
    static ActivationLayer read(Settings s) {
        Activation.Kind kind = s.choice("function", Activation.Kind.class);
        return new ActivationLayer(kind == Activation.Kind.LEAKY_RELU ? Activation.leakyRelu(s.number("slope")) : Activation.of(kind));
    }

    @Override
    public String describe() {
        return switch (function.kind()) {
            case IDENTITY -> "Identity";
            case RELU -> "ReLU";
            case SIGMOID -> "Sigmoid";
            case TANH -> "Tanh";
            case SCALED_TANH -> "ScaledTanh 1.7159·tanh(2x/3)";
            case LEAKY_RELU -> "LeakyReLU slope " + function.slope();
            case SILU -> "SiLU";
            case GELU -> "GELU (erf)";
        };
    }

    @Override
    protected final Shape build(Shape input, Random rng) {
        fused = false;
        return input;
    }

    /** Leaves the work to the layer before, which applies this function itself (see {@link Fusion}): both passes pass through. */
    void fuseIntoPrevious() {
        requireBound();
        fused = true;
    }

    /** Whether the layer before applies this function (and this layer passes values through). */
    public boolean fused() {
        return fused;
    }

    @Override
    protected final Tensor forwardPass(Tensor x, Pass pass) {
        if (fused) return x;
        this.x = x;
        y = buffer("y", x.shape());
        backend().activationForward(function, y, x);
        return y;
    }

    @Override
    protected final Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        if (fused) return dy;
        Tensor dx = buffer("dx", x.shape());
        backend().activationBackward(function, dx, dy, x, y);
        return dx;
    }

    @Override
    protected final long multiplyAccumulates() {
        return 0;
    }
}
