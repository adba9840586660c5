package org.cnn4j.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;

import org.cnn4j.backend.Backend;
import org.cnn4j.io.Json;
import org.cnn4j.io.Settings;
import org.cnn4j.layer.Parameter;
import org.cnn4j.model.Graph;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.ResidualNets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Weight decay on the weights only: biases and batch normalisation's γ and β left alone when asked, on every backend and optimizer. */
class WeightDecayTest {
    static java.util.stream.Stream<Backend> backends() {
        return Backends.all();
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false) // the shared backends stay open
    @MethodSource("backends")
    void weightsOnlyDecayLeavesBiasesAndNormsAlone(Backend b) {
        for (Optimizer o : new Optimizer[] {new Sgd(0.1).weightDecay(0.5), new Adam(0.1).weightDecay(0.5).decoupled(true)}) {
            Graph model = ResidualNets.batchNormBlock(1, 4, 2, 3).seed(1).build(b);
            model.zeroGradients(); // no gradient: decay alone moves a parameter
            Map<String, double[]> before = new LinkedHashMap<>();
            for (Parameter p : model.parameters()) before.put(p.name(), p.value().toDoubleArray());
            o.decayBiasesAndNorms(false).step(model.parameters());
            for (Parameter p : model.parameters()) {
                boolean exempt = p.normalisation() || p.name().endsWith(".bias");
                double[] was = before.get(p.name()), now = p.value().toDoubleArray();
                if (exempt) {
                    assertArrayEquals(was, now, 0, o.describe() + ": " + p.name() + " is not decayed");
                } else {
                    double shrink = 1 - 0.1 * 0.5; // SGD: w − lr·λ·w; AdamW: w·(1 − lr·λ); the same factor
                    for (int i = 0; i < was.length; i++) assertEquals(was[i] * shrink, now[i], 1e-6 * Math.max(1, Math.abs(was[i])), p.name());
                }
            }
            assertTrue(model.parameters().stream().anyMatch(Parameter::normalisation), "the block has batch norms");
            model.close();
        }
    }

    @Test
    void theSettingTravelsInCheckpointsAndOldOnesDecayEverything() {
        Optimizer o = new Sgd(0.1).momentum(0.9).weightDecay(5e-4).decayBiasesAndNorms(false);
        assertTrue(o.describe().contains("weight_decay=5.0E-4 (weights only)"), o.describe());
        Optimizer back = Optimizer.fromConfig(new Settings("optimizer", Json.readObject(Json.write(o.config()))));
        assertFalse(back.decaysBiasesAndNorms());
        Map<String, Object> old = new LinkedHashMap<>(o.config());
        old.remove("decayBiasesAndNorms");
        assertTrue(Optimizer.fromConfig(new Settings("optimizer", old)).decaysBiasesAndNorms());
    }
}
