package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** y = 1 / (1 + e^−x). */
public final class Sigmoid extends ActivationLayer {
    public Sigmoid() {
        super(Activation.SIGMOID);
    }
}
