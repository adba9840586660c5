package org.cnn4j.model;

import java.util.stream.Stream;

import org.cnn4j.backend.Backend;
import org.cnn4j.tensor.DType;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.RandomNetworks;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One training step of small networks drawn at random (scripts/random-networks.py: convolutions
 * grouped, depthwise, strided and dilated; poolings in every mode; batch normalisation; each
 * activation; residual additions; channel concatenations; global pooling or flattening before a
 * dense layer, with or without a hidden one normalised in batches) against
 * PyTorch 1.13 in float64, on every backend: the loss, every gradient and the running statistics.
 * The layers' own tests check each alone; this checks them in the combinations a user builds.
 */
class RandomNetworksTest {
    static Stream<Arguments> steps() {
        return Backends.all().flatMap(b -> RandomNetworks.all().stream().map(n -> Arguments.of(b, n)));
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false) // the shared backends stay open
    @MethodSource("steps")
    void aTrainingStepMatchesPyTorch(Backend b, RandomNetworks.Network n) {
        n.assertStep(b, b.precision() == DType.FLOAT64 ? RandomNetworks.FLOAT64 : RandomNetworks.FLOAT32);
    }
}
