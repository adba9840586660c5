package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** y = max(0, x). */
public final class ReLU extends ActivationLayer {
    public ReLU() {
        super(Activation.RELU);
    }
}
