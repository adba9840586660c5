package org.cnn4j.layer;

import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/** (n, c, h, w) → (n, c·h·w) without copying: the same storage, seen as a matrix. */
public final class Flatten extends Layer {
    @Override
    public String describe() {
        return "Flatten";
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        return Shape.of(input.size());
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        return x.reshape(Shape.of(x.shape().rows(), outputShape().size()));
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        return computeInputGradient() ? dy.reshape(inputShape().batch(dy.shape().rows())) : null;
    }

    @Override
    protected long multiplyAccumulates() {
        return 0;
    }
}
