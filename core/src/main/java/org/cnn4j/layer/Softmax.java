package org.cnn4j.layer;

import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Softmax over the features of each sample: y_j = e^{x_j} / Σ_l e^{x_l}. For training a classifier
 * prefer the fused {@code SoftmaxCrossEntropy} loss on logits; this layer is for models that must
 * output probabilities, or feed them to another loss. Backward: dx = y ∘ (dy − Σ dy ∘ y).
 */
public final class Softmax extends Layer {
    private Tensor y;

    @Override
    public String describe() {
        return "Softmax";
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        return input;
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        y = buffer("y", x.shape());
        backend().softmaxForward(y, x);
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", dy.shape());
        backend().softmaxBackward(dx, dy, y);
        return dx;
    }

    @Override
    protected long multiplyAccumulates() {
        return inputShape().size();
    }
}
