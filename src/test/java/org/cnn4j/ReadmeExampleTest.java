package org.cnn4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The example of README.md, as written there, runs and learns. */
class ReadmeExampleTest {

    @Test
    void readmeExampleTrains() {
        Sequential.StepResult first = null, last = null;
        try (CpuBackend cpu = new CpuBackend()) {
            Sequential model = Models.fmnistCnn().seed(42).build(cpu);
            Dataset data = SyntheticShapes.generate(256, 28, 8, 1);
            Tensor x = cpu.upload(Shape.of(256, 1, 28, 28), data.images(data.statistics()));
            Tensor y = cpu.uploadInts(Shape.of(256), data.labels());
            Sgd sgd = new Sgd(0.05).momentum(0.9);
            for (int step = 0; step < 60; step++) {
                last = model.trainStep(x, y, sgd);
                if (first == null) first = last;
            }
        }
        System.out.println("README example: first " + first + ", last " + last);
        assertTrue(last.loss() < 0.5 * first.loss(), first + " -> " + last);
    }
}
