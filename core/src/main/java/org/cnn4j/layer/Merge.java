package org.cnn4j.layer;

import java.util.List;
import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * A layer of two or more inputs ({@link Add}): a graph node that joins branches. It is bound to
 * the shapes of all its inputs and passes back one gradient per input, with the same ownership
 * rules as any layer (its outputs stay valid until its next pass of the same kind).
 */
public abstract class Merge extends Layer {
    /** Checks the inputs' per-sample shapes (two or more), creates parameters if any and returns the output's shape. */
    protected abstract Shape buildMerge(List<Shape> inputs, Random rng);

    /** y for a batch of each input, their shapes already checked. */
    protected abstract Tensor forwardMerge(List<Tensor> xs, Pass pass);

    /** The gradient of each input, in input order (null where not needed), given dy, already checked. */
    protected abstract List<Tensor> backwardMerge(Tensor dy);

    @Override
    final Shape build(List<Shape> inputs, Random rng) {
        if (inputs.size() < 2) throw new IllegalArgumentException("takes two or more inputs, got " + inputs.size());
        return buildMerge(inputs, rng);
    }

    @Override
    protected final Shape build(Shape input, Random rng) {
        throw new IllegalArgumentException("takes two or more inputs, got 1");
    }

    @Override
    public final Tensor forward(List<Tensor> xs, Pass pass) {
        checkInputs(xs);
        return produced(forwardMerge(xs, pass));
    }

    @Override
    public final List<Tensor> backwardAll(Tensor dy) {
        checkGradient(dy);
        return backwardMerge(dy);
    }

    @Override
    protected final Tensor forwardPass(Tensor x, Pass pass) {
        throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") takes two or more inputs, got 1");
    }

    @Override
    protected final Tensor backwardPass(Tensor dy) {
        throw new IllegalStateException("layer '" + name() + "' (" + describe() + ") passes back one gradient per input: use backwardAll");
    }
}
