package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** y = x·Φ(x), Φ the standard normal distribution function: the exact erf form, PyTorch's nn.GELU() default. */
public final class GELU extends ActivationLayer {
    public GELU() {
        super(Activation.GELU);
    }
}
