package org.cnn4j.backend;

import org.cnn4j.tensor.Tensor;

/**
 * The operations of the layers that Bouvrie's <i>Notes on Convolutional Neural Networks</i> (2006)
 * derives beyond plain convolution and pooling: LeNet-style subsampling with a trainable scale and
 * bias per map (§3.2), and learned combinations of feature maps (§3.3).
 */
public interface FeatureMapOps {

    /**
     * Subsampling: y(n,c,i,j) = β(c)·down(x)(n,c,i,j) + b(c), where down sums each window of g
     * (usually n×n blocks with stride n).
     */
    void subsampleForward(Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g);

    /**
     * Backward of {@link #subsampleForward}: dbeta(c) += Σ dy ∘ down(x); db(c) += Σ dy (accumulate);
     * dx = β(c)·up(dy) (overwrite), where up spreads each dy over its window.
     */
    void subsampleBackward(Tensor dx, Tensor dbeta, Tensor db, Tensor dy, Tensor x, Tensor beta, PoolGeometry g);

    /**
     * Mixing weights of learned feature-map combinations: alpha(j,i) = softmax over i of c(j,i), and the effective
     * filters wEff(j,i,r,s) = alpha(j,i) · k(j,i,r,s).
     */
    void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c);

    /**
     * Backward of {@link #combinationForward} given dwEff: dk += alpha ∘ dwEff;
     * dalpha(j,i) = Σ_{r,s} k ∘ dwEff; dc += alpha ∘ (dalpha − Σ_i alpha·dalpha), plus the gradient
     * of {@code lambda · penalty} with respect to c. Accumulates dk and dc.
     */
    void combinationBackward(Tensor dk, Tensor dc, Tensor dwEff, Tensor alpha, Tensor k,
                             CombinationPenalty penalty, double lambda);

    /** lambda · Σ_j Ω(alpha(j,·)) for the given penalty. */
    double combinationPenalty(Tensor alpha, CombinationPenalty penalty, double lambda);
}
