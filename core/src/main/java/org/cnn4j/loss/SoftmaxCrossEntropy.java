package org.cnn4j.loss;

import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Softmax followed by cross-entropy, fused and numerically stable, on logits (n, classes) and
 * INT32 labels (n): E_i = log Σ_j e^{x_ij} − x_i[label_i], ∂E/∂x = (softmax(x) − onehot) / n.
 * A label outside [0, classes) is rejected with its batch index.
 */
public final class SoftmaxCrossEntropy extends Loss {

    @Override
    public SoftmaxCrossEntropy copy() {
        return new SoftmaxCrossEntropy();
    }

    @Override
    public String describe() {
        return "SoftmaxCrossEntropy";
    }

    @Override
    protected void check(Shape predictionShape) {
        if (predictionShape.size() < 2) {
            throw new IllegalArgumentException(describe() + " needs at least 2 classes, but the model outputs " + predictionShape);
        }
    }

    @Override
    protected void compute(Tensor perSample, Tensor dy, Tensor y, Tensor target, double gradScale) {
        if (target.dtype() != DType.INT32 || target.shape().rank() != 1) {
            throw new IllegalArgumentException(describe() + " expects INT32 class labels of shape (n), got "
                    + target.dtype() + target.shape());
        }
        backend().softmaxCrossEntropy(perSample, dy, y, target, gradScale);
    }
}
