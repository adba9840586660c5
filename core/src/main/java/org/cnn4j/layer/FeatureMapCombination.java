package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Learned combinations of feature maps (Bouvrie's <i>Notes on Convolutional Neural Networks</i> (2006), §3.3):
 * y_j = Σ_i α_ij (x_i ⋆ k_ij) + b_j with α_·j = softmax(c_·j) over the input maps i, so each
 * output map mixes its inputs with weights that are positive and sum to one. It is computed as a
 * convolution with effective filters α_ij·k_ij. Trainable: the kernels k, the mixing logits c, and b.
 *
 * <p>Backward: dk_ij += α_ij · dW_ij, ∂E/∂α_ij = Σ k_ij ∘ dW_ij (= Σ δ_j ∘ (x_i ⋆ k_ij)), and
 * ∂E/∂c_i = α_i (∂E/∂α_i − Σ_l α_l ∂E/∂α_l), where dW is the convolution's filter gradient.
 *
 * <p>Penalties on α ({@link CombinationPenalty}): the notes' λΣ|α| is constant under the softmax, so
 * it never sparsifies (kept as written, for fidelity); ENTROPY does. Follow with an activation
 * layer for the notes' f(·).
 */
public final class FeatureMapCombination extends Layer {
    private final int inMaps, outMaps, kernel;
    private int pad;
    private CombinationPenalty penalty = CombinationPenalty.NONE;
    private double lambda;

    private ConvGeometry geometry;
    private Parameter k, c, b;
    private Tensor x, alpha, wEff;

    public FeatureMapCombination(int inMaps, int outMaps, int kernel) {
        if (inMaps < 1 || outMaps < 1 || kernel < 1) {
            throw new IllegalArgumentException("FeatureMapCombination needs positive sizes, got " + inMaps + "→" + outMaps
                    + " " + kernel + "x" + kernel);
        }
        this.inMaps = inMaps;
        this.outMaps = outMaps;
        this.kernel = kernel;
    }

    public FeatureMapCombination padding(int pad) {
        requireUnbound("padding");
        this.pad = pad;
        return this;
    }

    /** Adds lambda·Ω(α) to the loss. */
    public FeatureMapCombination penalty(CombinationPenalty penalty, double lambda) {
        requireUnbound("penalty");
        this.penalty = penalty;
        this.lambda = Parameter.requireNonNegative("penalty weight", lambda);
        return this;
    }

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("in", inMaps);
        s.put("out", outMaps);
        s.put("kernel", kernel);
        s.put("padding", pad);
        s.put("penalty", penalty.name());
        s.put("lambda", lambda);
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static FeatureMapCombination read(Settings s) {
        return new FeatureMapCombination(s.integer("in"), s.integer("out"), s.integer("kernel"))
                .padding(s.integer("padding")).penalty(s.choice("penalty", CombinationPenalty.class), s.number("lambda"));
    }

    @Override
    public String describe() {
        return "FeatureMapCombination " + inMaps + "→" + outMaps + " " + kernel + "×" + kernel
                + (pad != 0 ? " pad " + pad : "") + (penalty != CombinationPenalty.NONE ? " " + penalty + " λ=" + lambda : "");
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        if (input.rank() != 3 || input.dim(0) != inMaps) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") expects input (n, " + inMaps
                    + ", h, w) but gets " + batchShape(input));
        }
        geometry = ConvGeometry.square(inMaps, input.dim(1), input.dim(2), outMaps, kernel, pad, 1, 1);
        Shape kShape = Shape.of(outMaps, inMaps, kernel, kernel);
        int fanIn = kernel * kernel;
        k = parameter("kernel", kShape, () -> Init.DEFAULT.weights(kShape.size(), fanIn, fanIn, rng));
        Shape cShape = Shape.of(outMaps, inMaps);
        c = parameter("mix", cShape, () -> {
            // Logits start near zero: every input map weighs about 1/inMaps, with a little noise to break symmetry.
            double[] logits = new double[cShape.size()];
            for (int i = 0; i < logits.length; i++) logits[i] = 0.01 * rng.nextGaussian();
            return logits;
        });
        b = parameter("bias", Shape.of(outMaps), () -> new double[outMaps]);
        return Shape.of(outMaps, geometry.p(), geometry.q());
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        this.x = x;
        alpha = buffer("alpha", c.value().shape());
        wEff = buffer("wEff", k.value().shape());
        backend().combinationForward(wEff, alpha, k.value(), c.value());
        Tensor y = buffer("y", outputShape().batch(x.shape().n()));
        backend().convForward(y, x, wEff, geometry);
        backend().addBias(y, b.value());
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        Tensor dwEff = buffer("dwEff", k.value().shape());
        backend().fill(dwEff, 0);
        backend().convBackwardFilter(dwEff, x, dy, geometry);
        backend().combinationBackward(k.gradient(), c.gradient(), dwEff, alpha, k.value(), penalty, lambda);
        backend().biasBackward(b.gradient(), dy);
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", x.shape());
        backend().convBackwardData(dx, dy, wEff, geometry);
        return dx;
    }

    /** λ·Ω(α) at the current mixing logits. */
    @Override
    public double penalty() {
        return penalty == CombinationPenalty.NONE ? 0 : backend().combinationPenalty(currentAlpha(), penalty, lambda);
    }

    /** The current mixing weights α (outMaps, inMaps), row j holding output map j's weights. */
    public double[] mixingWeights() {
        return currentAlpha().toDoubleArray();
    }

    private Tensor currentAlpha() {
        Tensor a = buffer("alpha", c.value().shape());
        backend().combinationForward(buffer("wEff", k.value().shape()), a, k.value(), c.value());
        return a;
    }

    @Override
    protected long multiplyAccumulates() {
        return geometry.macsPerSample();
    }

    public Parameter kernels() {
        return k;
    }

    public Parameter mixingLogits() {
        return c;
    }

    public Parameter bias() {
        return b;
    }
}
