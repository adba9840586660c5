package org.cnn4j.layer;

import java.util.Random;

/**
 * Weight initialisations; fanIn is inputs per output (c·r·s for a convolution, in for a dense layer),
 * fanOut likewise outputs per input.
 */
public enum Init {
    /** PyTorch's default for Conv2d and Linear: U(−1/√fanIn, 1/√fanIn) for weights and biases. */
    DEFAULT,
    /** He et al. for ReLU networks: N(0, 2/fanIn); biases 0. */
    HE_NORMAL,
    /** Glorot and Bengio: U(±√(6/(fanIn + fanOut))); biases 0. */
    XAVIER_UNIFORM,
    /** LeCun's for scaled-tanh networks (LeNet-5): U(±2.4/fanIn); biases 0. */
    LECUN_UNIFORM;

    double[] weights(int count, int fanIn, int fanOut, Random rng) {
        double[] w = new double[count];
        for (int i = 0; i < count; i++) {
            w[i] = switch (this) {
                case DEFAULT -> uniform(rng, 1 / Math.sqrt(fanIn));
                case HE_NORMAL -> rng.nextGaussian() * Math.sqrt(2.0 / fanIn);
                case XAVIER_UNIFORM -> uniform(rng, Math.sqrt(6.0 / (fanIn + fanOut)));
                case LECUN_UNIFORM -> uniform(rng, 2.4 / fanIn);
            };
        }
        return w;
    }

    double[] biases(int count, int fanIn, Random rng) {
        double[] b = new double[count];
        if (this == DEFAULT) {
            for (int i = 0; i < count; i++) b[i] = uniform(rng, 1 / Math.sqrt(fanIn));
        }
        return b;
    }

    private static double uniform(Random rng, double bound) {
        return (2 * rng.nextDouble() - 1) * bound;
    }
}
