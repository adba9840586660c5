package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Inverted dropout: in training, each value is zeroed with probability p and the rest are scaled
 * by 1/(1 − p), so evaluation (where the layer passes x through untouched) needs no rescaling.
 * The mask comes from a counter-based hash of (layer seed, training step, element), so the same
 * step gives the same mask on every backend.
 */
public final class Dropout extends Layer {
    private final double p;
    private Tensor mask;
    private boolean masked;

    public Dropout(double p) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("Dropout probability must be in [0, 1), got " + p);
        this.p = p;
    }

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("p", p);
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static Dropout read(Settings s) {
        return new Dropout(s.number("p"));
    }

    @Override
    public String describe() {
        return "Dropout p=" + p;
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        return input;
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        masked = pass.training() && p > 0;
        if (!masked) return x;
        Tensor y = buffer("y", x.shape());
        mask = buffer("mask", x.shape());
        long perSample = x.size() / x.shape().rows(); // the elements before this batch's, in the job's batch
        backend().dropoutForward(y, mask, x, p, org.cnn4j.backend.CounterRng.skip(seedFor(pass.step()), pass.firstSample() * perSample));
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        if (!masked) return dy;
        Tensor dx = buffer("dx", dy.shape());
        backend().dropoutBackward(dx, dy, mask);
        return dx;
    }

    /** The mask changes with the step, and the step is a kernel argument: no replays. */
    @Override
    public boolean sameWorkEveryStep() {
        return p == 0;
    }

    @Override
    protected long multiplyAccumulates() {
        return 0;
    }
}
