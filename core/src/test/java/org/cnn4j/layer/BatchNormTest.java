package org.cnn4j.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.io.AtomicFiles;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.io.ModelFile;
import org.cnn4j.io.Safetensors;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.GradientChecker;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.cnn4j.testing.ResidualNets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batch normalisation in models: its running statistics as state, in files, copies, checks and steps; its mistakes. */
class BatchNormTest {
    @TempDir
    Path dir;

    private static final Backend B = Backends.CPU;
    private static final DataInfo INFO = new DataInfo("t", List.of("a", "b", "c", "d", "e"), Normalization.identity(1));

    private static Tensor images(Graph model, int n, long seed) {
        return B.upload(model.inputShape().batch(n), Data.gaussian(new Random(seed), n * model.inputShape().size(), 2));
    }

    private static Graph trained(long seed) {
        Graph model = ResidualNets.batchNormBlock(1, 8, 4, 5).seed(seed).build(B);
        Tensor x = images(model, 6, seed), y = B.uploadInts(Shape.of(6), new int[] {0, 1, 2, 3, 4, 0});
        Sgd sgd = new Sgd(0.05).momentum(0.9);
        for (int i = 0; i < 3; i++) model.trainStep(x, y, sgd);
        return model;
    }

    @Test
    void runningStatisticsAreStateUnderPyTorchsNamesAndTravelWithTheModel() throws IOException {
        Graph model = trained(1);
        assertEquals(List.of("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked", "bn2.running_mean", "bn2.running_var",
                "bn2.num_batches_tracked", "bn_shortcut.running_mean", "bn_shortcut.running_var", "bn_shortcut.num_batches_tracked"),
                model.state().stream().map(Layer.State::name).toList());
        assertArrayEquals(new float[] {3}, model.state().get(2).value().toFloatArray(), "three training steps counted");
        assertTrue(model.parameters().stream().noneMatch(p -> p.name().contains("running")), "state is no parameter: optimizers never see it");
        double[] moved = model.state().get(0).value().toDoubleArray();
        assertTrue(java.util.Arrays.stream(moved).anyMatch(v -> v != 0), "training moved the running mean");

        Tensor x = images(model, 3, 9);
        float[] expected = model.forward(x, Pass.INFERENCE).toFloatArray();
        Path f = dir.resolve("bn.safetensors");
        ModelFile.save(f, model, INFO);
        assertArrayEquals(model.state().get(0).value().toFloatArray(), Safetensors.read(f).tensors().get("bn1.running_mean").values());
        try (Model loaded = ModelFile.load(f, B).model()) {
            assertArrayEquals(expected, loaded.forward(x, Pass.INFERENCE).toFloatArray(), "inference uses the saved running statistics");
        }
        try (Graph copy = model.copyTo(Backends.REFERENCE)) {
            Tensor x64 = Backends.REFERENCE.upload(x.shape(), x.toDoubleArray());
            double[] out = copy.forward(x64, Pass.INFERENCE).toDoubleArray();
            for (int i = 0; i < out.length; i++) assertEquals(expected[i], out[i], 1e-4 * Math.max(1, Math.abs(expected[i])));
        }

        Safetensors.Contents c = Safetensors.read(f);
        Map<String, Safetensors.Entry> older = new LinkedHashMap<>(c.tensors());
        older.keySet().removeIf(k -> k.endsWith(".num_batches_tracked"));
        AtomicFiles.write(f, out -> Safetensors.write(out, c.metadata(), older));
        try (Model loaded = ModelFile.load(f, B).model()) {
            assertArrayEquals(expected, loaded.forward(x, Pass.INFERENCE).toFloatArray(), "a file without batch counts (written before them) loads");
            assertArrayEquals(new float[] {0}, loaded.state().get(2).value().toFloatArray(), "and counts from 0");
        }
        Map<String, Safetensors.Entry> without = new LinkedHashMap<>(c.tensors());
        without.remove("bn2.running_var");
        AtomicFiles.write(f, out -> Safetensors.write(out, c.metadata(), without));
        String m = assertThrows(FileFormatException.class, () -> ModelFile.load(f, B)).getMessage();
        assertTrue(m.contains("state 'bn2.running_var' (4) of the architecture has no tensor in the file"), m);
    }

    @Test
    void theGradientCheckPutsTheRunningStatisticsBack() {
        Graph model = trained(2);
        List<float[]> before = model.state().stream().map(t -> t.value().toFloatArray()).toList();
        GradientChecker.Report report = GradientChecker.checkInDouble(model, images(model, 4, 3), B.uploadInts(Shape.of(4), new int[] {1, 2, 3, 4}));
        assertTrue(report.passed(1e-6), report.toString());
        Graph inDouble = model.copyTo(Backends.REFERENCE);
        GradientChecker.check(inDouble, Backends.REFERENCE.upload(Shape.of(4, 1, 8, 8), images(model, 4, 3).toDoubleArray()),
                Backends.REFERENCE.uploadInts(Shape.of(4), new int[] {1, 2, 3, 4}));
        for (int i = 0; i < before.size(); i++) {
            assertArrayEquals(before.get(i), model.state().get(i).value().toFloatArray());
            double[] kept = inDouble.state().get(i).value().toDoubleArray();
            for (int j = 0; j < kept.length; j++) assertEquals(before.get(i)[j], kept[j], 0, "state " + i + " after a check in double");
        }
    }

    @Test
    void mistakesAreRefusedNamingTheLayerAndTheShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sequential.builder().input(3, 8, 8)
                .add("bn", new BatchNorm2d(4)).add(new Flatten()).add(new org.cnn4j.layer.Dense(192, 2)).loss(new SoftmaxCrossEntropy()).build(B));
        assertTrue(e.getMessage().contains("layer 'bn' (BatchNorm2d 4) expects input (n, 4, h, w) but gets (n, 3, 8, 8)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Sequential.builder().input(6)
                .add("bn", new BatchNorm2d(6)).add(new org.cnn4j.layer.Dense(6, 2)).loss(new SoftmaxCrossEntropy()).build(B));
        assertTrue(e.getMessage().contains("expects input (n, 6, h, w) but gets (n, 6)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BatchNorm1d(3).momentum(1.5));
        assertThrows(IllegalArgumentException.class, () -> new BatchNorm1d(3).eps(0));

        Graph model = Sequential.builder().input(5).add("bn", new BatchNorm1d(5)).add(new org.cnn4j.layer.Dense(5, 2))
                .loss(new SoftmaxCrossEntropy()).build(B);
        Tensor x = B.upload(Shape.of(3, 5), Data.gaussian(new Random(1), 15, 1));
        model.forward(x, Pass.INFERENCE);
        model.loss(model.forward(x, Pass.INFERENCE), B.uploadInts(Shape.of(3), new int[] {0, 1, 0}), true);
        IllegalStateException s = assertThrows(IllegalStateException.class, model::backward);
        assertTrue(s.getMessage().contains("a backward pass follows a training pass"), s.getMessage());
        assertFalse(model.toString().isEmpty());
    }
}
