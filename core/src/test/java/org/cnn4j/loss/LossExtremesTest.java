package org.cnn4j.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;

import org.cnn4j.backend.Backend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The losses where precision or range give out: one-hot targets exact on a backend in double, and
 * cross-entropy finite when the label's probability underflows to zero.
 */
class LossExtremesTest {
    static Stream<Backend> backends() {
        return Backends.all();
    }

    @Test
    void oneHotTargetsAreExactOnTheReferenceBackend() {
        Backend ref = Backends.REFERENCE;
        SquaredError loss = new SquaredError(0.8, -0.8);
        loss.bind(ref, Shape.of(3));
        Tensor y = ref.upload(Shape.of(2, 3), new double[] {0.1, 0.2, 0.3, -0.4, 0.5, 0.6});
        Tensor labels = ref.uploadInts(Shape.of(2), new int[] {2, 0});
        double mean = loss.forward(y, labels, true);
        double[] t = {-0.8, -0.8, 0.8, 0.8, -0.8, -0.8}, yv = y.toDoubleArray(), dy = loss.gradient().toDoubleArray();
        double[] perSample = new double[2];
        for (int j = 0; j < 6; j++) {
            // ∂E/∂y = (y − t) / n with t exactly ±0.8, not ±0.800000011920929
            assertEquals((yv[j] - t[j]) / 2, dy[j], 1e-15, "dy[" + j + "]");
            perSample[j / 3] += 0.5 * (t[j] - yv[j]) * (t[j] - yv[j]);
        }
        assertEquals((perSample[0] + perSample[1]) / 2, mean, 1e-15, "mean loss");
    }

    @ParameterizedTest(autoCloseArguments = false) // the backends are shared by every test
    @MethodSource("backends")
    void crossEntropyStaysFiniteWhenTheLabelsProbabilityUnderflows(Backend backend) {
        try (Tensor loss = backend.allocate(Shape.of(2)); Tensor dx = backend.allocate(Shape.of(2, 2));
             // softmax([800, 0])[1] = e^−800, which is 0 in double and in float
             Tensor logits = backend.upload(Shape.of(2, 2), new double[] {800, 0, -3, 5});
             Tensor labels = backend.uploadInts(Shape.of(2), new int[] {1, 1})) {
            backend.fill(loss, Float.NaN);
            backend.fill(dx, Float.NaN);
            backend.softmaxCrossEntropy(loss, dx, logits, labels, 0.5);
            double[] l = loss.toDoubleArray(), d = dx.toDoubleArray();
            assertEquals(800, l[0], 800 * 1e-6, "loss of logits [800, 0], label 1, on " + backend.name());
            assertEquals(Math.log1p(Math.exp(-8)), l[1], 1e-6, "loss of logits [-3, 5], label 1");
            double[] expected = {0.5, -0.5, 0.5 * Math.exp(-8) / (1 + Math.exp(-8)), -0.5 / (1 + Math.exp(8))};
            for (int j = 0; j < 4; j++) {
                assertTrue(Double.isFinite(d[j]), "dx[" + j + "] is finite on " + backend.name());
                assertEquals(expected[j], d[j], 1e-6, "dx[" + j + "] on " + backend.name());
            }
        }
    }
}
