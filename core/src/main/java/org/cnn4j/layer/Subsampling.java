package org.cnn4j.layer;

import java.util.Map;
import java.util.Arrays;
import java.util.Random;

import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * The subsampling layer of LeNet-5 as Bouvrie's <i>Notes on Convolutional Neural Networks</i> (2006), §3.2, derives it: y_j = β_j · down(x_j) + b_j, where down
 * sums each n×n block of map j, with a trainable multiplicative β and additive b per map. Follow it
 * with an activation layer for the notes' f(·).
 *
 * <p>Backward: ∂E/∂b_j = Σ δ_j, ∂E/∂β_j = Σ δ_j ∘ down(x_j), and dx_j = β_j · up(δ_j) with
 * up(δ) = δ ⊗ 1_{n×n}. Rows and columns beyond the last whole block are ignored (gradient 0).
 * β starts at 1/n² (an average) and b at 0.
 */
public final class Subsampling extends Layer {
    private final int block;
    private PoolGeometry geometry;
    private Parameter beta, b;
    private Tensor x;

    /** n×n blocks. */
    public Subsampling(int block) {
        if (block < 1) throw new IllegalArgumentException("Subsampling needs a block size >= 1, got " + block);
        this.block = block;
    }

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("block", block);
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static Subsampling read(Settings s) {
        return new Subsampling(s.integer("block"));
    }

    @Override
    public String describe() {
        return "Subsampling " + block + "×" + block;
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        if (input.rank() != 3 || input.dim(1) < block || input.dim(2) < block) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") needs images of at least "
                    + block + "x" + block + ", gets " + batchShape(input));
        }
        int c = input.dim(0);
        geometry = PoolGeometry.square(c, input.dim(1), input.dim(2), block, block);
        beta = parameter("beta", Shape.of(c), () -> {
            double[] ones = new double[c];
            Arrays.fill(ones, 1.0 / ((double) block * block));
            return ones;
        });
        b = parameter("bias", Shape.of(c), () -> new double[c]);
        return Shape.of(c, geometry.p(), geometry.q());
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        this.x = x;
        Tensor y = buffer("y", outputShape().batch(x.shape().n()));
        backend().subsampleForward(y, x, beta.value(), b.value(), geometry);
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        Tensor dx = buffer("dx", x.shape());
        backend().subsampleBackward(dx, beta.gradient(), b.gradient(), dy, x, beta.value(), geometry);
        return computeInputGradient() ? dx : null;
    }

    @Override
    protected long multiplyAccumulates() {
        // One multiply by β per output (the block sums are additions).
        return outputShape().size();
    }

    public Parameter beta() {
        return beta;
    }

    public Parameter bias() {
        return b;
    }
}
