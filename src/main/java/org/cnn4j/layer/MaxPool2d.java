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
    private boolean reluBackward;

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

    @Override
    protected Shape build(Shape input, Random rng) {
        reluBackward = false;
        return super.build(input, rng);
    }

    /** Takes over the backward pass of the ReLU (fused into a convolution) whose output is this layer's input. */
    void takeReluBackward() {
        requireBound();
        reluBackward = true;
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
        backend().maxPoolBackward(dx, dy, mask, reluBackward ? x : null, geometry);
        return dx;
    }

    /** The mask of the last forward pass: flat indices into each input plane. */
    public Tensor mask() {
        return mask;
    }
}
