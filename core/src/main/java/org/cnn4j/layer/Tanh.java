package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** y = tanh x. */
public final class Tanh extends ActivationLayer {
    public Tanh() {
        super(Activation.TANH);
    }
}
