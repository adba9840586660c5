package org.cnn4j.layer;

import org.cnn4j.backend.Activation;

/** LeCun's scaled tanh (LeCun et al., <i>Efficient BackProp</i>, 1998), y = 1.7159 · tanh(2x/3). */
public final class ScaledTanh extends ActivationLayer {
    public ScaledTanh() {
        super(Activation.SCALED_TANH);
    }
}
