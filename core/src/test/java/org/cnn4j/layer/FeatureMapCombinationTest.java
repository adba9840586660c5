package org.cnn4j.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.loss.SquaredError;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.junit.jupiter.api.Test;

/** Learned map combinations: an L1 penalty on softmax mixing weights is inert; the entropy penalty makes them sparse. */
class FeatureMapCombinationTest {

    private static Graph model(Backend backend, CombinationPenalty penalty, double lambda) {
        return Sequential.builder().input(5, 6, 6)
                .add(new FeatureMapCombination(5, 4, 3).penalty(penalty, lambda))
                .loss(new SquaredError()).seed(4).build(backend);
    }

    private static FeatureMapCombination layer(Graph m) {
        return (FeatureMapCombination) m.layers().get(0);
    }

    private static void randomiseLogits(Graph m, long seed) {
        Parameter c = layer(m).mixingLogits();
        m.backend().copy(c.value(), m.backend().upload(c.value().shape(), Data.gaussian(new Random(seed), c.value().size(), 1.5)));
    }

    /** The penalty's own gradient: backward with dy = 0, so only λΩ contributes to dc. */
    private static double[] penaltyGradient(Graph m) {
        Backend b = m.backend();
        Tensor x = b.upload(Shape.of(1, 5, 6, 6), Data.uniform(new Random(1), 180));
        Tensor y = m.forward(x, Pass.training(0));
        m.zeroGradients();
        m.loss(y, y, true); // target = prediction: zero data gradient
        m.backward();
        return layer(m).mixingLogits().gradient().toDoubleArray();
    }

    @Test
    void seedL1PenaltyIsConstantAndItsGradientVanishes() {
        for (Backend b : new Backend[] {Backends.REFERENCE, Backends.CPU}) {
            Graph m = model(b, CombinationPenalty.SEED_L1, 0.8);
            for (long seed = 0; seed < 5; seed++) {
                randomiseLogits(m, seed);
                // Σ_j Σ_i |α_ij| = Σ_j 1 = 4 output maps, whatever c is.
                assertEquals(0.8 * 4, layer(m).penalty(), 1e-6, "λ·Σ|α| is constant");
                for (double g : penaltyGradient(m)) assertEquals(0, g, 1e-7, "λ(|α_i| − α_i Σ|α_k|) = 0");
            }
        }
    }

    @Test
    void entropyPenaltyGradientIsNotZero() {
        Graph m = model(Backends.REFERENCE, CombinationPenalty.ENTROPY, 0.8);
        randomiseLogits(m, 1);
        double norm = 0;
        for (double g : penaltyGradient(m)) norm += Math.abs(g);
        assertTrue(norm > 0.1, "entropy gradient magnitude " + norm);
    }

    @Test
    void descendingTheEntropyPenaltyConcentratesEachMixture() {
        Graph m = model(Backends.CPU, CombinationPenalty.ENTROPY, 1.0);
        Graph plain = model(Backends.CPU, CombinationPenalty.SEED_L1, 1.0);
        double before = largestWeightOnAverage(layer(m).mixingWeights());
        Sgd sgd = new Sgd(2.0), sgdPlain = new Sgd(2.0);
        for (int step = 0; step < 200; step++) {
            penaltyGradient(m);
            sgd.step(m.parameters());
            penaltyGradient(plain);
            sgdPlain.step(plain.parameters());
        }
        double after = largestWeightOnAverage(layer(m).mixingWeights());
        double plainAfter = largestWeightOnAverage(layer(plain).mixingWeights());
        assertTrue(before < 0.25, "starts near uniform over 5 maps: " + before);
        assertTrue(after > 0.9, "entropy penalty leaves one input map per output: " + after);
        assertEquals(before, plainAfter, 1e-3, "Bouvrie's L1 penalty leaves the mixture where it was");
    }

    private static double largestWeightOnAverage(double[] alpha) {
        double sum = 0;
        for (int j = 0; j < 4; j++) {
            double max = 0;
            for (int i = 0; i < 5; i++) max = Math.max(max, alpha[j * 5 + i]);
            sum += max;
        }
        return sum / 4;
    }
}
