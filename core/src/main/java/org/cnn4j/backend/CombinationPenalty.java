package org.cnn4j.backend;

/**
 * Penalties on the mixing weights α of learned feature-map combinations, added to
 * the loss as {@code λ · Ω(α)} summed over output maps.
 */
public enum CombinationPenalty {
    /** No penalty. */
    NONE,
    /**
     * Bouvrie's {@code λ Σ|α_i|} (§3.3.1) with its gradient {@code ∂Ω/∂c_i = λ(|α_i| − α_i Σ_k |α_k|)},
     * implemented as written. Because α = softmax(c) is positive and sums to 1, Σ|α| = 1 for every c:
     * the penalty is a constant and its gradient is zero (up to rounding). It does not sparsify.
     */
    SEED_L1,
    /**
     * The entropy {@code −Σ_i α_i log α_i} of each output map's mixture. It is smallest (zero) when
     * one input map takes all the weight, so minimising it drives the combinations sparse.
     * {@code ∂Ω/∂c_i = −α_i (log α_i + H)} with H the entropy.
     */
    ENTROPY
}
