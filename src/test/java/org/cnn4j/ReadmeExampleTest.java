package org.cnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.Datasets;
import org.cnn4j.io.ModelFile;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.train.EpochMetrics;
import org.cnn4j.train.Reports;
import org.cnn4j.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The examples of README.md, as written there, run and learn. */
class ReadmeExampleTest {
    @TempDir
    Path out;

    @Test
    void readmeTrainerExampleTrainsSavesAndLoads() throws IOException {
        List<EpochMetrics> history;
        Sequential loaded;
        Datasets.Split data = Datasets.open("synthetic", 42);   // or "fashion-mnist", or a directory of IDX / CIFAR-10 files
        try (CpuBackend cpu = new CpuBackend()) {
            Sequential model = Models.fmnistCnn().seed(42).build(cpu);
            Trainer trainer = new Trainer(model, new Sgd(0.05).momentum(0.9), Trainer.Options.of(1, 128).seed(42))
                    .checkpointTo(out.resolve("checkpoint.safetensors"))   // after every epoch; Trainer.resume(file, backend) continues
                    .listener(new Reports(out));                            // metrics.csv, loss.png, accuracy.png, confusion.png
            history = trainer.fit(data.train(), data.test());
            System.out.println(history.get(0));                            // EpochMetrics[epoch=1, ..., testAccuracy=0.959, ...]
            ModelFile.save(out.resolve("model.safetensors"), model, trainer.dataInfo());
            loaded = ModelFile.load(out.resolve("model.safetensors"), cpu).model();
            assertArrayEquals(model.parameters().get(0).value().toFloatArray(), loaded.parameters().get(0).value().toFloatArray());
        }
        assertTrue(history.get(0).testAccuracy() > 0.9, history.toString());
        for (String f : List.of("checkpoint.safetensors", "model.safetensors", Reports.CSV, Reports.CONFUSION)) assertTrue(Files.exists(out.resolve(f)), f);
    }

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
