package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** y = x·σ(x) = x / (1 + e^−x) (swish), as PyTorch's nn.SiLU. */
public final class SiLU extends ActivationLayer {
    public SiLU() {
        super(Activation.SILU);
    }
}
