package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** LeCun's scaled tanh of seed 003, y = 1.7159 · tanh(2x/3). */
public final class ScaledTanh extends ActivationLayer {
    public ScaledTanh() {
        super(Activation.SCALED_TANH);
    }
}
