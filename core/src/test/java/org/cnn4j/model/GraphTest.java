package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.io.AtomicFiles;
import org.cnn4j.io.Json;
import org.cnn4j.io.ModelFile;
import org.cnn4j.io.Safetensors;
import org.cnn4j.layer.Add;
import org.cnn4j.layer.Concat;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.Identity;
import org.cnn4j.layer.Pass;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Model;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.cnn4j.testing.ResidualNets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Graphs of named nodes: branches that join with Add, outputs that feed several nodes, their files and their mistakes. */
class GraphTest {
    @TempDir
    Path dir;

    private static final Backend B = Backends.CPU;

    private static Tensor images(Backend b, int n, Shape sample, long seed) {
        return b.upload(sample.batch(n), Data.gaussian(new Random(seed), n * sample.size(), 1));
    }

    /** A final Softmax before SoftmaxCrossEntropy is named (the build warns); before another loss, or inside the graph, it is not. */
    @Test
    void aSoftmaxAppliedTwiceIsNamed() {
        List<org.cnn4j.layer.Layer> tail = List.of(new Dense(4, 3), new org.cnn4j.layer.Softmax());
        List<String> names = List.of("fc", "probabilities");
        String m = Graph.Builder.softmaxTwice(tail, names, new SoftmaxCrossEntropy());
        assertTrue(m != null && m.startsWith("node 'probabilities' is a Softmax before the SoftmaxCrossEntropy loss"), m);
        assertEquals(null, Graph.Builder.softmaxTwice(tail, names, new org.cnn4j.loss.SquaredError()));
        assertEquals(null, Graph.Builder.softmaxTwice(tail.reversed(), names.reversed(), new SoftmaxCrossEntropy()));
    }

    @Test
    void gradientsMeetWhereOneOutputFeedsSeveralNodes() {
        Graph model = ResidualNets.block(2, 6, 3, 4).seed(7).build(B);
        Tensor labels = B.uploadInts(Shape.of(3), new int[] {0, 3, 1});
        GradientChecker.Report report = GradientChecker.checkInDouble(model, images(B, 3, model.inputShape(), 1), labels);
        assertTrue(report.passed(1e-6), report.toString());
        assertEquals(List.of("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "shortcut.weight", "shortcut.bias", "fc.weight", "fc.bias", "input"),
                report.tensors().stream().map(GradientChecker.TensorReport::name).toList(), "every parameter and the input (which feeds two nodes)");
    }

    @Test
    void cpuAndReferenceAgreeOnAResidualTrainingStep() {
        Graph cpu = ResidualNets.block(1, 8, 4, 5).seed(3).build(B);
        try (Graph reference = cpu.copyTo(Backends.REFERENCE)) {
            Tensor x = images(B, 4, cpu.inputShape(), 2), y = B.uploadInts(Shape.of(4), new int[] {1, 4, 0, 2});
            Tensor x64 = Backends.REFERENCE.upload(x.shape(), x.toDoubleArray()), y64 = Backends.REFERENCE.uploadInts(y.shape(), y.toIntArray());
            for (int step = 0; step < 3; step++) {
                double a = cpu.trainStep(x, y, new Sgd(0.1).momentum(0)).loss(), b = reference.trainStep(x64, y64, new Sgd(0.1).momentum(0)).loss();
                assertEquals(b, a, 1e-5 * Math.max(1, Math.abs(b)), "step " + step);
            }
            for (int i = 0; i < cpu.parameters().size(); i++) {
                double[] p = cpu.parameters().get(i).value().toDoubleArray(), q = reference.parameters().get(i).value().toDoubleArray();
                for (int j = 0; j < p.length; j++) assertEquals(q[j], p[j], 1e-4, cpu.parameters().get(i).name());
            }
        }
    }

    /** The same chain written as a graph with every input named gives the same numbers, bit for bit. */
    @Test
    void aChainWithNamedInputsIsTheSequentialModel() {
        Graph chain = Sequential.builder().input(1, 6, 6).add("c", new Conv2d(1, 2, 3)).add("r", new ReLU()).add("f", new Flatten())
                .add("d", new Dense(32, 3)).loss(new SoftmaxCrossEntropy()).seed(5).build(B);
        Graph named = Graph.builder().input(1, 6, 6).add("c", new Conv2d(1, 2, 3), "input").add("r", new ReLU(), "c").add("f", new Flatten(), "r")
                .add("d", new Dense(32, 3), "f").loss(new SoftmaxCrossEntropy()).seed(5).build(B);
        Tensor x = images(B, 2, chain.inputShape(), 4);
        assertArrayEquals(chain.forward(x, Pass.INFERENCE).toFloatArray(), named.forward(x, Pass.INFERENCE).toFloatArray());
        assertEquals(chain.toString(), named.toString());
    }

    /** A convolution whose output feeds its ReLU and another node is not fused with it: the other node must see the values before the ReLU. */
    @Test
    void fusionLeavesAnOutputThatFeedsTwoNodes() {
        Graph.Builder wide = Graph.builder().input(1, 6, 6).add("c", new Conv2d(1, 2, 3), "input").add("r", new ReLU(), "c")
                .add("sum", new Add(), "r", "c").add("f", new Flatten()).add("d", new Dense(32, 3)).loss(new SoftmaxCrossEntropy()).seed(2);
        Graph fused = wide.build(B);
        Graph.Builder again = Graph.builder().input(1, 6, 6).add("c", new Conv2d(1, 2, 3), "input").add("r", new ReLU(), "c")
                .add("sum", new Add(), "r", "c").add("f", new Flatten()).add("d", new Dense(32, 3)).loss(new SoftmaxCrossEntropy()).seed(2);
        Graph plain = again.fuseActivations(false).build(B);
        Tensor x = images(B, 3, fused.inputShape(), 8);
        assertArrayEquals(plain.forward(x, Pass.INFERENCE).toFloatArray(), fused.forward(x, Pass.INFERENCE).toFloatArray());
    }

    @Test
    void aResidualGraphSurvivesItsFileAndFormatOneStillLoads() throws IOException {
        Graph model = ResidualNets.block(1, 8, 4, 5).seed(11).build(B);
        DataInfo info = new DataInfo("t", List.of("a", "b", "c", "d", "e"), Normalization.identity(1));
        Path f = dir.resolve("residual.safetensors");
        ModelFile.save(f, model, info);
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals("2", c.metadata().get(ModelFile.FORMAT_KEY));
        assertTrue(c.metadata().get(ModelFile.ARCHITECTURE_KEY).contains("\"name\":\"sum\",\"type\":\"Add\",\"inputs\":[\"conv2\",\"shortcut\",\"relu1\"]"));
        Tensor x = images(B, 2, model.inputShape(), 3);
        try (Model loaded = ModelFile.load(f, B).model()) {
            assertArrayEquals(model.forward(x, Pass.INFERENCE).toFloatArray(), loaded.forward(x, Pass.INFERENCE).toFloatArray());
            assertEquals(model.toString(), loaded.toString());
        }

        // A format-1 file: no inputs listed, a chain.
        Graph chain = Sequential.builder().input(1, 6, 6).add("c", new Conv2d(1, 2, 3)).add("f", new Flatten()).add("d", new Dense(32, 5))
                .loss(new SoftmaxCrossEntropy()).seed(5).build(B);
        Map<String, Object> architecture = ModelFile.architecture(chain);
        for (Object layer : (List<?>) architecture.get("layers")) ((Map<?, ?>) layer).remove("inputs");
        Path old = dir.resolve("format1.safetensors");
        Map<String, String> metadata = Map.of(ModelFile.FORMAT_KEY, "1", ModelFile.ARCHITECTURE_KEY, Json.write(architecture),
                ModelFile.DATA_KEY, Json.write(info.config()));
        Map<String, Safetensors.Entry> tensors = new java.util.LinkedHashMap<>();
        chain.parameters().forEach(p -> tensors.put(p.name(), ModelFile.entry(p.value())));
        AtomicFiles.write(old, out -> Safetensors.write(out, metadata, tensors));
        Tensor small = images(B, 2, chain.inputShape(), 3);
        try (Model loaded = ModelFile.load(old, B).model()) {
            assertArrayEquals(chain.forward(small, Pass.INFERENCE).toFloatArray(), loaded.forward(small, Pass.INFERENCE).toFloatArray());
        }
    }

    private static String refusal(Graph.Builder b) {
        return assertThrows(IllegalArgumentException.class, () -> b.build(B)).getMessage();
    }

    private static Graph.Builder head(Graph.Builder b) {
        return b.add("f", new Flatten()).add("d", new Dense(72, 3)).loss(new SoftmaxCrossEntropy());
    }

    @Test
    void badGraphsAreRefusedNamingTheNodeAndTheShapes() {
        String m = refusal(head(Graph.builder().input(2, 6, 6).add("a", new Identity(), "b").add("b", new Identity(), "a")));
        assertTrue(m.contains("node 'a' takes 'b', which is not added before it: a node takes earlier nodes only, so that the graph has no cycle"), m);
        m = refusal(head(Graph.builder().input(2, 6, 6).add("a", new Identity(), "nowhere")));
        assertTrue(m.contains("node 'a' takes 'nowhere', which is no node of the model (its nodes: a, f, d, and 'input')"), m);
        m = refusal(head(Graph.builder().input(2, 6, 6).add("wide", new Conv2d(2, 4, 1), "input").add("sum", new Add(), "wide", "input")));
        assertTrue(m.contains("layer 'sum' (Add) on 'wide' (n, 4, 6, 6), 'input' (n, 2, 6, 6): adds inputs of one shape, got (n, 4, 6, 6) (input 0) "
                + "and (n, 2, 6, 6) (input 1)"), m);
        m = refusal(head(Graph.builder().input(2, 6, 6).add("one", new Add(), "input")));
        assertTrue(m.contains("layer 'one' (Add): takes two or more inputs, got 1"), m);
        m = refusal(head(Graph.builder().input(2, 6, 6).add("two", new ReLU(), "input", "input")));
        assertTrue(m.contains("layer 'two' (ReLU) on 'input' (n, 2, 6, 6), 'input' (n, 2, 6, 6): takes one input, got 2"), m);
        m = refusal(head(Graph.builder().input(2, 6, 6).add("input", new Identity())));
        assertTrue(m.contains("cannot be named 'input'"), m);
        m = refusal(head(Graph.builder().input(2, 6, 6).add("lost", new Identity(), "input").add("kept", new Identity(), "input")));
        assertTrue(m.contains("node 'lost' feeds no other node; the model's output is its last node, 'd'"), m);
    }

    /** An inception-like join: two branches of 2 and 3 maps and the input (2 maps) concatenated into 7 channels. */
    private static Graph.Builder concatenated() {
        return Graph.builder().input(2, 5, 5)
                .add("a", new Conv2d(2, 2, 3).padding(1), Graph.INPUT).add("b", new Conv2d(2, 3, 1), Graph.INPUT).add("relu", new ReLU())
                .add("join", new Concat(), "a", "relu", "input").add("f", new Flatten()).add("d", new Dense(7 * 25, 4))
                .loss(new SoftmaxCrossEntropy());
    }

    @Test
    void concatJoinsChannelsAndSplitsTheirGradient() {
        Graph model = concatenated().seed(3).build(B);
        assertEquals(Shape.of(7, 5, 5), model.layers().get(3).outputShape());
        Tensor labels = B.uploadInts(Shape.of(3), new int[] {0, 3, 1});
        GradientChecker.Report report = GradientChecker.checkInDouble(model, images(B, 3, model.inputShape(), 2), labels);
        assertTrue(report.passed(1e-6), report.toString());
        try (Graph reference = model.copyTo(Backends.REFERENCE)) {
            Tensor x = images(B, 3, model.inputShape(), 5);
            double[] expected = reference.forward(Backends.REFERENCE.upload(x.shape(), x.toDoubleArray()), Pass.INFERENCE).toDoubleArray();
            float[] actual = model.forward(x, Pass.INFERENCE).toFloatArray();
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-4 * Math.max(1, Math.abs(expected[i])));
        }
        String m = refusal(head(Graph.builder().input(2, 6, 6).add("small", new org.cnn4j.layer.MaxPool2d(2), "input")
                .add("join", new Concat(), "input", "small")));
        assertTrue(m.contains("layer 'join' (Concat) on 'input' (n, 2, 6, 6), 'small' (n, 2, 3, 3): joins inputs that differ only in channels"), m);
    }

    @Test
    void summaryAndDescriptionListEachNodesInputs() {
        Graph model = ResidualNets.block(1, 8, 4, 5).build(B);
        String text = model.toString();
        assertTrue(text.contains("sum: Add  ← conv2, shortcut, relu1"), text);
        assertTrue(text.contains("shortcut: Conv2d 1→4 1×1  ← input"), text);
        assertTrue(!text.contains("relu1: ReLU  ←"), "a node that takes the one before shows no arrow: " + text);
    }
}
