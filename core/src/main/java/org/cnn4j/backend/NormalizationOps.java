package org.cnn4j.backend;

import org.cnn4j.tensor.Tensor;

/** The normalisation family of {@link Backend}'s operations: batch normalisation with PyTorch's semantics. */
public interface NormalizationOps {

    /**
     * Batch normalisation in training mode, per channel c of x (n, c, …): the batch mean μ and the
     * biased variance σ² over the n samples and the spatial positions (M values), then
     * {@code y = (x − μ)·(γ/√(σ² + eps)) + β}. Saves μ and 1/√(σ² + eps) (as float32, which the
     * normalisation uses) for {@link #batchNormBackward}, and updates the running statistics as
     * PyTorch: {@code runningMean ← (1 − m)·runningMean + m·μ},
     * {@code runningVar ← (1 − m)·runningVar + m·σ²·M/(M − 1)} (the unbiased variance). Sums are
     * taken in double; y overwrites.
     */
    void batchNormTraining(Tensor y, Tensor saveMean, Tensor saveInvStd, Tensor x, Tensor gamma, Tensor beta,
                           Tensor runningMean, Tensor runningVar, double momentum, double eps);

    /** Batch normalisation in inference mode: {@code y = (x − runningMean)·(γ/√(runningVar + eps)) + β}, in float32. */
    void batchNormInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps);

    /**
     * The backward pass of {@link #batchNormTraining}: with x̂ = (x − μ)·s (s the saved 1/√(σ² + eps)),
     * {@code dγ += Σ dy·x̂}, {@code dβ += Σ dy} (accumulate), and
     * {@code dx = γ·s·(dy − Σdy/M − x̂·Σ(dy·x̂)/M)} (overwrites).
     */
    void batchNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma, Tensor saveMean, Tensor saveInvStd);
}
