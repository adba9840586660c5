package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** y = x for x &gt; 0, slope·x otherwise, as PyTorch's nn.LeakyReLU (default slope 0.01). */
public final class LeakyReLU extends ActivationLayer {
    public LeakyReLU() {
        this(Activation.DEFAULT_LEAKY_SLOPE);
    }

    public LeakyReLU(double slope) {
        super(Activation.leakyRelu(slope));
    }
}
