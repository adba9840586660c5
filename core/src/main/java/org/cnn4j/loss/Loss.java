package org.cnn4j.loss;

import java.util.LinkedHashMap;
import java.util.Map;

import org.cnn4j.backend.Backend;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * A loss on a batch of predictions, averaged over the batch: E = (1/n) Σ_i E_i. {@link #forward}
 * returns E and, when asked, leaves ∂E/∂prediction in {@link #gradient()}. Bound to a backend and
 * a per-sample prediction shape by the model builder.
 */
public abstract class Loss {
    private Backend backend;
    private Shape predictionShape;
    private Tensor perSample, gradient;

    /** A new, unbound loss with this one's configuration. */
    public abstract Loss copy();

    public abstract String describe();

    /** Kind ("type") and settings: what a model file stores to rebuild the loss with {@link #fromConfig}. */
    public final Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", getClass().getSimpleName());
        settings(c);
        return c;
    }

    protected void settings(Map<String, Object> c) {
    }

    /** The loss a {@link #config()} describes. */
    public static Loss fromConfig(Settings s) {
        String type = s.string("type");
        return switch (type) {
            case "SoftmaxCrossEntropy" -> new SoftmaxCrossEntropy();
            case "SquaredError" -> new SquaredError(s.number("on"), s.number("off"));
            default -> throw new IllegalArgumentException(s.owner() + ": unknown loss '" + type + "' (known: SoftmaxCrossEntropy, SquaredError)");
        };
    }

    /** Checks that this loss fits predictions of the given per-sample shape. */
    public final void bind(Backend backend, Shape predictionShape) {
        if (this.backend != null) throw new IllegalStateException(describe() + " is already part of a model");
        check(predictionShape);
        this.backend = backend;
        this.predictionShape = predictionShape;
    }

    protected abstract void check(Shape predictionShape);

    /** Mean loss of the batch; with {@code computeGradient}, also ∂E/∂prediction. */
    public final double forward(Tensor prediction, Tensor target, boolean computeGradient) {
        Tensor losses = perSample(prediction, target, computeGradient);
        return backend.sum(losses) / losses.size();
    }

    /**
     * Each sample's loss, as a tensor (n) on the backend, without reading it back to the host; with
     * {@code computeGradient}, also ∂E/∂prediction for {@link #gradient()}. The tensors are reused
     * from call to call while n stays the same.
     */
    public final Tensor perSample(Tensor prediction, Tensor target, boolean computeGradient) {
        if (backend == null) throw new IllegalStateException(describe() + " is not part of a model yet");
        int n = prediction.shape().rows();
        if (prediction.shape().columns() != predictionShape.size()) {
            throw new IllegalArgumentException(describe() + " expects predictions of " + predictionShape.size()
                    + " values per sample, got " + prediction.shape());
        }
        if (target.shape().rows() != n) {
            throw new IllegalArgumentException(describe() + ": " + n + " predictions " + prediction.shape() + " but "
                    + target.shape().rows() + " targets " + target.shape());
        }
        Tensor matrix = prediction.reshape(Shape.of(n, predictionShape.size()));
        perSample = reuse(perSample, Shape.of(n));
        Tensor grad = null;
        if (computeGradient) {
            gradient = reuse(gradient, matrix.shape());
            grad = gradient;
        }
        compute(perSample, grad, matrix, target, 1.0 / n);
        return perSample;
    }

    /** Writes each sample's loss and, when dy is not null, gradScale · ∂E_i/∂y. */
    protected abstract void compute(Tensor perSample, Tensor dy, Tensor y, Tensor target, double gradScale);

    /** ∂E/∂prediction from the last forward pass that computed it, as an (n, values) matrix. */
    public final Tensor gradient() {
        if (gradient == null) throw new IllegalStateException(describe() + ": no gradient computed yet");
        return gradient;
    }

    protected final Backend backend() {
        return backend;
    }

    private Tensor reuse(Tensor t, Shape shape) {
        if (t != null && t.shape().equals(shape)) return t;
        if (t != null) t.close();
        return backend.allocate(shape);
    }

    @Override
    public String toString() {
        return describe();
    }
}
