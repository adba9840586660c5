package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Backend;
import org.cnn4j.layer.ActivationLayer;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Pass;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A convolution or dense layer that takes over the activation after it computes what the two
 * layers compute apart: on the CPU the same outputs, input gradients and training steps bit for
 * bit, for every activation (ReLU fused into the convolution's write-out, the others applied in
 * place; SiLU and GELU left apart); and its gradients pass a finite-difference check in double precision.
 */
class FusionTest {
    private static final int N = 4, CLASSES = 3;

    private static Graph model(Backend backend, Activation f, boolean fuse) {
        return Sequential.builder().input(2, 9, 9)
                .add(new Conv2d(2, 4, 3).padding(1)).add(new ActivationLayer(f)).add(new MaxPool2d(2))
                .add(new Conv2d(4, 5, 3)).add(new ActivationLayer(f))
                .add(new Flatten()).add(new Dense(5 * 2 * 2, 6)).add(new ActivationLayer(f)).add(new Dense(6, CLASSES))
                .loss(new SoftmaxCrossEntropy()).seed(7).fuseActivations(fuse).build(backend);
    }

    @ParameterizedTest
    @MethodSource("org.cnn4j.backend.Activation#everyKind")
    void fusedLayersComputeWhatTheLayersComputeApart(Activation f) {
        Graph fused = model(Backends.CPU, f, true), apart = model(Backends.CPU, f, false);
        boolean fusable = !f.derivativeNeedsInput(); // SiLU and GELU need x, which a fused layer does not keep
        for (int i : new int[] {1, 4, 7}) {
            assertEquals(fusable, ((ActivationLayer) fused.layers().get(i)).fused(), "both convolutions' and the dense layer's activations");
        }
        assertFalse(((ActivationLayer) apart.layers().get(1)).fused());
        fused.computeInputGradient(true);
        apart.computeInputGradient(true);
        Random rng = new Random(f.kind().ordinal());
        float[] pixels = new float[N * 2 * 9 * 9];
        for (int i = 0; i < pixels.length; i++) pixels[i] = (float) rng.nextGaussian();
        int[] classes = {0, 2, 1, 2};
        Tensor x = Backends.CPU.upload(Shape.of(N, 2, 9, 9), pixels), y = Backends.CPU.uploadInts(Shape.of(N), classes);

        assertArrayEquals(apart.forward(x, Pass.INFERENCE).toFloatArray(), fused.forward(x, Pass.INFERENCE).toFloatArray(), "outputs");
        assertEquals(apart.loss(apart.forward(x, Pass.training(0)), y, true), fused.loss(fused.forward(x, Pass.training(0)), y, true));
        fused.zeroGradients();
        apart.zeroGradients();
        assertArrayEquals(apart.backward().toFloatArray(), fused.backward().toFloatArray(), "input gradients");
        for (int i = 0; i < fused.parameters().size(); i++) {
            assertArrayEquals(apart.parameters().get(i).gradient().toFloatArray(), fused.parameters().get(i).gradient().toFloatArray(),
                    "gradient of " + fused.parameters().get(i).name());
        }
        Sgd a = new Sgd(0.1).momentum(0.9), b = new Sgd(0.1).momentum(0.9);
        for (int step = 0; step < 3; step++) assertEquals(apart.trainStep(x, y, a).loss(), fused.trainStep(x, y, b).loss(), "loss of step " + step);
        for (int i = 0; i < fused.parameters().size(); i++) {
            assertArrayEquals(apart.parameters().get(i).value().toFloatArray(), fused.parameters().get(i).value().toFloatArray(),
                    "weights of " + fused.parameters().get(i).name() + " after 3 steps");
        }

        GradientChecker.Report report = GradientChecker.checkInDouble(fused, x, y);
        assertTrue(report.passed(1e-3), report.toString());
    }
}
