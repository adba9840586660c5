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
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.io.ModelFile;
import org.cnn4j.layer.Add;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.train.EpochMetrics;
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
        Model loaded;
        Datasets.Split data = Datasets.open("synthetic", 42);   // or "fashion-mnist", or a directory of IDX / CIFAR-10 files
        try (CpuBackend cpu = new CpuBackend()) {
            Model model = Models.fmnistCnn().seed(42).build(cpu);
            Trainer trainer = new Trainer(model, new Sgd(0.05).momentum(0.9), Trainer.Options.of(1, 128).seed(42))
                    .checkpointTo(out.resolve("checkpoint.safetensors"));  // after every epoch; Trainer.resume(file, backend) continues
            history = trainer.fit(data.train(), data.test());
            System.out.println(history.get(0));                            // EpochMetrics[epoch=1, ..., testAccuracy=0.959, ...]
            ModelFile.save(out.resolve("model.safetensors"), model, trainer.dataInfo());
            loaded = ModelFile.load(out.resolve("model.safetensors"), cpu).model();
            assertArrayEquals(model.parameters().get(0).value().toFloatArray(), loaded.parameters().get(0).value().toFloatArray());
        }
        assertTrue(history.get(0).testAccuracy() > 0.9, history.toString());
        for (String f : List.of("checkpoint.safetensors", "model.safetensors")) assertTrue(Files.exists(out.resolve(f)), f);
    }

    @Test
    void readmeResidualBlockTrains() {
        Graph.StepResult first = null, last = null;
        try (CpuBackend cpu = new CpuBackend()) {
            Model model = Graph.builder().input(1, 28, 28)
                    .add("stem", new Conv2d(1, 16, 3).padding(1), Graph.INPUT).add("relu0", new ReLU())
                    .add("conv1", new Conv2d(16, 16, 3).padding(1)).add("relu1", new ReLU())
                    .add("conv2", new Conv2d(16, 16, 3).padding(1))
                    .add("sum", new Add(), "conv2", "relu0")                // the shortcut: relu0 feeds conv1 and sum
                    .add("relu2", new ReLU()).add("pool", new MaxPool2d(2))
                    .add("flat", new Flatten()).add("fc", new Dense(16 * 14 * 14, 10))
                    .loss(new SoftmaxCrossEntropy()).seed(42)
                    .build(cpu);
            System.out.println(model.summary());                           // each node; "Add ← conv2, relu0" names its inputs
            assertTrue(model.summary().toString().contains("Add ← conv2, relu0"), model.summary().toString());
            Dataset data = SyntheticShapes.generate(64, 28, 8, 1);
            Tensor x = cpu.upload(Shape.of(64, 1, 28, 28), data.images(data.statistics()));
            Tensor y = cpu.uploadInts(Shape.of(64), data.labels());
            Sgd sgd = new Sgd(0.02).momentum(0.9);
            first = model.trainStep(x, y, sgd);
            for (int step = 1; step < 15; step++) last = model.trainStep(x, y, sgd);
        }
        assertTrue(last.loss() < 0.5 * first.loss(), first + " -> " + last);
    }

    @Test
    void readmeExampleTrains() {
        Graph.StepResult first = null, last = null;
        try (CpuBackend cpu = new CpuBackend()) {
            Model model = Models.fmnistCnn().seed(42).build(cpu);
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
