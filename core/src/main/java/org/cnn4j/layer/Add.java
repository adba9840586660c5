package org.cnn4j.layer;

import java.util.Collections;
import java.util.List;
import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * y = x₀ + x₁ + … of two or more inputs of one shape: the join of a residual block (PyTorch's
 * {@code out += identity}). Each input's gradient is dy itself, passed back without a copy.
 */
public final class Add extends Merge {
    @Override
    public String describe() {
        return "Add";
    }

    @Override
    protected Shape buildMerge(List<Shape> inputs, Random rng) {
        for (int i = 1; i < inputs.size(); i++) {
            if (!inputs.get(i).equals(inputs.get(0))) {
                throw new IllegalArgumentException("adds inputs of one shape, got " + batchShape(inputs.get(0)) + " (input 0) and "
                        + batchShape(inputs.get(i)) + " (input " + i + ")");
            }
        }
        return inputs.get(0);
    }

    @Override
    protected Tensor forwardMerge(List<Tensor> xs, Pass pass) {
        Tensor y = buffer("y", xs.get(0).shape());
        backend().add(y, xs.get(0), xs.get(1));
        for (int i = 2; i < xs.size(); i++) backend().add(y, y, xs.get(i));
        return y;
    }

    @Override
    protected List<Tensor> backwardMerge(Tensor dy) {
        return Collections.nCopies(inputShapes().size(), dy);
    }

    @Override
    protected long multiplyAccumulates() {
        return 0;
    }
}
