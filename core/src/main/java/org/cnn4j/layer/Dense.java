package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.Activation;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Fully connected layer: y = x·Wᵀ + b with W of (out, in), as PyTorch's Linear. An image input
 * (n, c, h, w) is read as (n, c·h·w), so a Flatten in front is optional.
 *
 * <p>Backward: dW += dyᵀ·x (that is ∂E/∂W = δ xᵀ per sample), db += Σ_n dy,
 * dx = dy·W (that is Wᵀδ per sample).
 */
public final class Dense extends Layer {
    private final int in, out;
    private boolean bias = true;
    private Init init = Init.DEFAULT;
    private Parameter w, b;
    private Tensor x, y;
    private Activation fused = Activation.IDENTITY;

    public Dense(int in, int out) {
        if (in < 1 || out < 1) throw new IllegalArgumentException("Dense needs positive sizes, got " + in + "→" + out);
        this.in = in;
        this.out = out;
    }

    public Dense bias(boolean on) {
        requireUnbound("bias");
        this.bias = on;
        return this;
    }

    public Dense init(Init init) {
        requireUnbound("init");
        this.init = init;
        return this;
    }

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("in", in);
        s.put("out", out);
        s.put("bias", bias);
        s.put("init", init.name());
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static Dense read(Settings s) {
        return new Dense(s.integer("in"), s.integer("out")).bias(s.flag("bias")).init(s.choice("init", Init.class));
    }

    @Override
    public String describe() {
        return "Dense " + in + "→" + out + (bias ? "" : " no bias");
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        fused = Activation.IDENTITY;
        if (input.size() != in) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") expects " + in
                    + " input features per sample but gets " + batchShape(input) + " = " + input.size() + " features");
        }
        w = parameter("weight", Shape.of(out, in), () -> init.weights(out * in, in, out, rng));
        if (bias) b = parameter("bias", Shape.of(out), () -> init.biases(out, in, rng));
        return Shape.of(out);
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        int n = x.shape().rows();
        this.x = x.shape().rank() == 2 ? x : x.reshape(Shape.of(n, in));
        y = buffer("y", Shape.of(n, out));
        backend().gemm(false, true, 1, this.x, w.value(), 0, y);
        if (b != null || fused != Activation.IDENTITY) backend().biasActivation(y, b == null ? null : b.value(), fused);
        return y;
    }

    /**
     * Takes over the activation layer that follows (see {@link Fusion}): the forward pass returns
     * f(x·wᵀ + b), and the backward pass first turns dy into dy ∘ f'(y).
     */
    void fuse(Activation f) {
        requireBound();
        fused = f;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        Tensor db = b == null ? null : b.gradient();
        if (fused != Activation.IDENTITY) {
            dy = throughActivation(fused, dy, y, db);
            db = null; // summed with the activation's backward pass
        }
        backend().gemm(true, false, 1, dy, x, 1, w.gradient());
        if (db != null) backend().biasBackward(db, dy);
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", x.shape());
        backend().gemm(false, false, 1, dy, w.value(), 0, dx);
        return dx.reshape(inputShape().batch(dx.shape().rows()));
    }

    @Override
    protected long multiplyAccumulates() {
        return (long) in * out;
    }

    /** Weights (out, in). */
    public Parameter weight() {
        return w;
    }

    /** Biases (out), or null without bias. */
    public Parameter bias() {
        return b;
    }
}
