package org.cnn4j.model;

import static org.cnn4j.testing.Close.assertClose;
import static org.cnn4j.testing.Close.maxAbs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.Add;
import org.cnn4j.layer.BatchNorm;
import org.cnn4j.layer.BatchNorm1d;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.Pass;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.junit.jupiter.api.Test;

/** Batch normalisation folded into the layer before it gives the same inference outputs, with a node and a pass fewer each. */
class FoldingTest {
    private static final Backend B = Backends.CPU;

    /** A few training steps, so that the running statistics and γ, β are far from their initial values. */
    private static void train(Graph model, long seed) {
        Random rng = new Random(seed);
        int n = 8;
        Tensor x = B.upload(model.inputShape().batch(n), Data.gaussian(rng, n * model.inputShape().size(), 2));
        Tensor y = B.uploadInts(Shape.of(n), Data.labels(rng, n, model.outputShape().size()));
        Sgd sgd = new Sgd(0.05).momentum(0.9);
        for (int i = 0; i < 4; i++) model.trainStep(x, y, sgd);
    }

    private static void assertSameInference(Graph model, Graph folded, long seed) {
        Tensor x = B.upload(model.inputShape().batch(5), Data.gaussian(new Random(seed), 5 * model.inputShape().size(), 2));
        double[] expected = model.forward(x, Pass.INFERENCE).toDoubleArray();
        assertClose("folded inference", expected, folded.forward(x, Pass.INFERENCE).toDoubleArray(), 1e-5 * Math.max(1, maxAbs(expected)), 1e-5);
    }

    @Test
    void aResNetFoldsEveryBatchNormAndInfersTheSame() {
        try (Graph model = Models.resnet20(1, 8, 8, 10).seed(4).build(B)) {
            train(model, 5);
            try (Graph folded = Folding.foldBatchNorms(model)) {
                assertSameInference(model, folded, 6);
                assertEquals(21, folded.foldings().size(), folded.foldings().toString());
                assertEquals(model.layers().size() - 21, folded.layers().size());
                assertTrue(folded.layers().stream().noneMatch(l -> l instanceof BatchNorm));
                assertTrue(folded.summary().toString().contains("batch normalisations folded for inference: bn1 into conv1"), folded.summary().toString());
                assertTrue(model.foldings().isEmpty());
            }
        }
    }

    @Test
    void denseWithBatchNorm1dFoldsAndASharedOutputDoesNot() {
        Graph.Builder b = Graph.builder().input(2, 6, 6)
                .add("conv", new Conv2d(2, 3, 3), Graph.INPUT).add("bn", new BatchNorm2d(3))      // conv feeds bn and the sum: not folded
                .add("sum", new Add(), "bn", "conv").add("relu", new ReLU()).add("flat", new Flatten())
                .add("fc", new Dense(48, 6)).add("bn1d", new BatchNorm1d(6)).add("out", new Dense(6, 4))
                .loss(new SoftmaxCrossEntropy()).seed(3);
        try (Graph model = b.build(B)) {
            train(model, 7);
            try (Graph folded = Folding.foldBatchNorms(model)) {
                assertSameInference(model, folded, 8);
                assertEquals(java.util.List.of("bn1d into fc"), folded.foldings());
            }
        }
    }
}
