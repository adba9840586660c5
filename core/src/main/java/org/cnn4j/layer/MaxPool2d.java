package org.cnn4j.layer;

import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Max pooling. The forward pass records in a mask where each maximum came from (the first one on
 * ties); backward places each dy at that position, adding where overlapping windows share a winner
 * (the "upsample" through the mask).
 */
public final class MaxPool2d extends Pool2d {
    private Tensor mask;
    /** Whether this layer's backward pass also does that of the ReLU before it (see {@link Fusion}). */
    /** The convolution whose fused ReLU's backward pass this pooling takes over, or null. */
    private Conv2d reluOf;

    /** window×window windows with stride window. */
    public MaxPool2d(int window) {
        super(window, window);
    }

    public MaxPool2d(int windowH, int windowW) {
        super(windowH, windowW);
    }

    @Override
    protected String kind() {
        return "MaxPool2d";
    }

    /** Taps {@code dilation} apart (PyTorch's {@code dilation}; default 1: adjacent). */
    public MaxPool2d dilation(int dilation) {
        return dilation(dilation, dilation);
    }

    public MaxPool2d dilation(int dilationH, int dilationW) {
        requireUnbound("dilation");
        if (dilationH < 1 || dilationW < 1) throw new IllegalArgumentException("MaxPool2d needs a dilation of at least 1, got " + dilationH + "x" + dilationW);
        this.dilationH = dilationH;
        this.dilationW = dilationW;
        return this;
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        reluOf = null;
        return super.build(input, rng);
    }

    /**
     * Takes over the backward pass of the ReLU fused into {@code conv}, whose output is this layer's
     * input, and, where the backend sums bias gradients that way, the convolution's bias gradient.
     */
    void takeReluBackward(Conv2d conv) {
        requireBound();
        reluOf = conv;
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        this.x = x;
        Tensor y = buffer("y", outputShape().batch(x.shape().n()));
        mask = intBuffer("mask", y.shape());
        backend().maxPoolForward(y, mask, x, geometry);
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", x.shape());
        Tensor db = reluOf != null && backend().biasGradientWithActivation() ? reluOf.biasGradient() : null;
        backend().maxPoolBackward(dx, db, dy, mask, reluOf != null ? x : null, geometry);
        return dx;
    }

    /** The mask of the last forward pass: flat indices into each input plane. */
    public Tensor mask() {
        return mask;
    }
}
