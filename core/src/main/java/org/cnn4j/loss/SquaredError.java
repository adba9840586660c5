package org.cnn4j.loss;

import java.util.Arrays;
import java.util.Map;

import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Squared error as in Bouvrie's <i>Notes on Convolutional Neural Networks</i> (2006), §2.1: E_i = ½ Σ_k (t_ik − y_ik)², averaged over the batch, with
 * ∂E/∂y = (y − t) / n. Targets are a floating tensor shaped like the predictions, or INT32 class
 * labels (n), which become one-hot rows of {@code on} and {@code off} values (1 and 0 by default;
 * LeNet-5 with a scaled tanh output uses ±1).
 */
public final class SquaredError extends Loss {
    private final double on, off;
    private Tensor oneHot;

    public SquaredError() {
        this(1, 0);
    }

    /** With one-hot targets of {@code on} for the labelled class and {@code off} elsewhere. */
    public SquaredError(double on, double off) {
        this.on = on;
        this.off = off;
    }

    @Override
    public SquaredError copy() {
        return new SquaredError(on, off);
    }

    @Override
    protected void settings(Map<String, Object> c) {
        c.put("on", on);
        c.put("off", off);
    }

    @Override
    public String describe() {
        return "SquaredError";
    }

    @Override
    protected void check(Shape predictionShape) {
    }

    @Override
    protected void compute(Tensor perSample, Tensor dy, Tensor y, Tensor target, double gradScale) {
        Tensor t = target;
        if (target.dtype() == DType.INT32) {
            t = oneHot(target, y.shape());
        } else if (target.size() != y.size()) {
            throw new IllegalArgumentException(describe() + ": targets " + target.shape() + " do not match predictions " + y.shape());
        } else {
            t = target.reshape(y.shape());
        }
        backend().squaredError(perSample, dy, y, t, gradScale);
    }

    private Tensor oneHot(Tensor labels, Shape shape) {
        int n = shape.rows(), classes = shape.columns();
        if (labels.shape().rank() != 1) {
            throw new IllegalArgumentException(describe() + ": labels must have shape (n), got " + labels.shape());
        }
        int[] label = labels.toIntArray();
        // double, so that a backend in double trains against exactly on and off (0.8, not 0.800000011920929)
        double[] rows = new double[n * classes];
        Arrays.fill(rows, off);
        for (int i = 0; i < n; i++) {
            if (label[i] < 0 || label[i] >= classes) {
                throw new IllegalArgumentException(describe() + ": label " + label[i] + " at batch index " + i
                        + " is outside the " + classes + " classes [0, " + classes + ")");
            }
            rows[i * classes + label[i]] = on;
        }
        if (oneHot == null || !oneHot.shape().equals(shape)) oneHot = backend().allocate(shape);
        backend().write(oneHot, rows);
        return oneHot;
    }
}
