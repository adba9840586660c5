package org.cnn4j.layer;

import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/** y = x: a named place in a graph (a residual block's shortcut, say), passing values and gradients through without a copy. */
public final class Identity extends Layer {
    @Override
    public String describe() {
        return "Identity";
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        return input;
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        return x;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        return computeInputGradient() ? dy : null;
    }

    @Override
    protected long multiplyAccumulates() {
        return 0;
    }
}
