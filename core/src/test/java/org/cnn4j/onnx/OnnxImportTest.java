package org.cnn4j.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import ai.onnx.proto.OnnxMl;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.BatchNorm1d;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Concat;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.FeatureMapCombination;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.GELU;
import org.cnn4j.layer.GlobalAvgPool2d;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.LeakyReLU;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Pass;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.ScaledTanh;
import org.cnn4j.layer.SiLU;
import org.cnn4j.layer.Sigmoid;
import org.cnn4j.layer.Softmax;
import org.cnn4j.layer.Tanh;
import org.cnn4j.layer.ZeroPad2d;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.ResidualNets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxImportTest {
    @TempDir
    Path dir;

    private static float[] outputs(Model m, float[] x, int n) {
        Tensor in = m.backend().upload(m.inputShape().batch(n), x);
        float[] y = m.forward(in, Pass.INFERENCE).toFloatArray();
        in.close();
        return y;
    }

    private static float[] random(int size, long seed) {
        Random rng = new Random(seed);
        float[] x = new float[size];
        for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
        return x;
    }

    private static void randomiseRunningStatistics(Model m) {
        Random rng = new Random(5);
        for (Layer.State s : m.state()) {
            if (s.name().endsWith("num_batches_tracked")) continue;
            float[] v = new float[s.value().shape().size()];
            for (int i = 0; i < v.length; i++) v[i] = s.name().endsWith("running_var") ? 0.5f + rng.nextFloat() : (float) rng.nextGaussian() * 0.3f;
            m.backend().write(s.value(), v);
        }
    }

    /** cnn4j → ONNX → cnn4j: the same outputs (the same operations in the same order), the same data description. */
    @Test
    void roundTripGivesTheSameOutputs() throws IOException {
        Graph.Builder every = Graph.builder().input(3, 12, 12);
        every.add("conv", new Conv2d(3, 6, 3).padding(1).bias(true), Model.INPUT).add("bn", new BatchNorm2d(6))
                .add("leaky", new LeakyReLU(0.2), "bn").add("sig", new Sigmoid(), "bn").add("tanh", new Tanh(), "bn")
                .add("silu", new SiLU(), "bn").add("gelu", new GELU(), "bn").add("stanh", new ScaledTanh(), "bn")
                .add("cat", new Concat(), "leaky", "sig", "tanh", "silu", "gelu", "stanh").add("max", new MaxPool2d(3).dilation(2, 1).stride(2, 2).padding(1, 1))
                .add("avg", new AvgPool2d(2).padding(1, 1)).add("relu", new ReLU()).add("gap", new GlobalAvgPool2d())
                .add("drop", new Dropout(0.5)).add("fc", new Dense(36, 10)).add("bn1", new BatchNorm1d(10)).add("fc2", new Dense(10, 4))
                .add("softmax", new Softmax()).add("fc3", new Dense(4, 3)); // a Softmax inside the graph stays a layer
        List<Graph.Builder> models = List.of(Models.fmnistCnn(), Models.lenet5(), Models.vggSmall(), Models.resnet20(3, 32, 32, 10), Models.resnet18(3, 32, 32, 7),
                every.loss(new SoftmaxCrossEntropy()), ResidualNets.separable(3, 12, 4, 5), ResidualNets.poolingModes(3, 13, 4, 5));
        for (int k = 0; k < models.size(); k++) {
            try (Model m = models.get(k).seed(k).build(Backends.CPU)) {
                randomiseRunningStatistics(m);
                DataInfo info = new DataInfo("t", java.util.stream.IntStream.range(0, m.outputShape().size()).mapToObj(i -> "k" + i).toList(),
                        new Normalization(new double[m.inputShape().dim(0)], filled(m.inputShape().dim(0), 0.5)));
                Path f = dir.resolve(k + ".onnx");
                OnnxExport.write(f, m, info);
                OnnxImport.Imported back = OnnxImport.read(f, Backends.CPU);
                try (Model b = back.model()) {
                    float[] x = random(2 * m.inputShape().size(), k);
                    float[] expected = outputs(m, x, 2), actual = outputs(b, x, 2);
                    double scale = 0, worst = 0;
                    for (int i = 0; i < expected.length; i++) {
                        scale = Math.max(scale, Math.abs(expected[i]));
                        worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
                    }
                    assertTrue(worst <= 1e-6 * scale, "model " + k + ": off by " + worst + " at a scale of " + scale);
                    assertEquals(info.classNames(), back.data().classNames());
                    // every layer comes back as itself, but for the map combinations (convolutions of their effective
                    // filters), dropout (the identity it is in inference) and the Flatten after a global average pool
                    // (ONNX's pool keeps (c, 1, 1))
                    assertEquals(m.layers().stream().map(l -> l instanceof FeatureMapCombination ? "Conv2d" : l instanceof Dropout ? "Identity" : l.config().type())
                                    .filter(t -> !t.equals("Flatten")).toList(),
                            b.layers().stream().map(l -> l.config().type()).filter(t -> !t.equals("Flatten")).toList());
                    assertEquals(m.seed(), b.seed(), "the seed travels (it draws an unsplit folder's held-out images)");
                }
            }
        }
    }

    /** A model's ONNX form (running statistics random), an input of two samples and the model's outputs on it. */
    private record Exported(OnnxMl.ModelProto proto, float[] x, float[] expected, int layers) {
    }

    private static Exported exported(Graph.Builder model, long seed, long inputSeed) {
        try (Model m = model.seed(seed).build(Backends.CPU)) {
            randomiseRunningStatistics(m);
            float[] x = random(2 * m.inputShape().size(), inputSeed);
            return new Exported(OnnxExport.toOnnx(m, null), x, outputs(m, x, 2), m.layers().size());
        }
    }

    private static double[] filled(int n, double v) {
        double[] a = new double[n];
        Arrays.fill(a, v);
        return a;
    }

    /**
     * A ResNet-20 trained briefly in PyTorch 1.13 and exported by {@code torch.onnx.export} (opset
     * 13; PyTorch folds each batch normalisation into its convolution): cnn4j's outputs within 1e-5
     * of PyTorch's scale on PyTorch's input, and training continues from it.
     */
    @Test
    void aPyTorchResNet20ImportsAndTrainsOn() throws IOException {
        float[][] io = pytorchFile("torch-resnet20", 2 * 3 * 32 * 32);
        float[] x = io[0], expected = io[1];
        OnnxImport.Imported imported = OnnxImport.read(dir.resolve("torch-resnet20.onnx"), Backends.CPU);
        try (Model m = imported.model()) {
            assertEquals(org.cnn4j.tensor.Shape.of(3, 32, 32), m.inputShape());
            assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), imported.data().classNames(), "no metadata: the classes by number");
            assertNearScale("torch-resnet20", expected, outputs(m, x, 2));
            float[] before = m.parameters().getFirst().value().toFloatArray();
            Tensor in = m.backend().upload(m.inputShape().batch(2), x);
            Tensor y = m.backend().uploadInts(org.cnn4j.tensor.Shape.of(2), new int[] {3, 7});
            double first = m.trainStep(in, y, new org.cnn4j.optim.Sgd(0.01)).loss();
            for (int k = 0; k < 5; k++) m.trainStep(in, y, new org.cnn4j.optim.Sgd(0.01));
            double later = m.evaluate(in, y).loss();
            in.close();
            y.close();
            assertTrue(!Arrays.equals(before, m.parameters().getFirst().value().toFloatArray()) && later < first,
                    "training goes on: loss " + first + " -> " + later);
        }
    }

    /**
     * A small PyTorch net of depthwise-separable convolutions with SiLU and GELU (written by
     * PyTorch as Sigmoid·x and the Erf form, scalars as Constant nodes), a max pooling in ceil mode
     * and an average pooling without its padding in the divisor: the same outputs as PyTorch, and
     * the activations come back as cnn4j's own layers.
     */
    @Test
    void aPyTorchDepthwiseNetWithSiluAndGeluImports() throws IOException {
        List<String> kinds = pytorchNetImports("torch-mobile", 2 * 3 * 20 * 20);
        assertTrue(kinds.contains("SiLU") && kinds.contains("GELU (erf)") && kinds.stream().anyMatch(k -> k.contains("groups 8")), kinds.toString());
        assertTrue(kinds.contains("MaxPool2d 3×3 stride 2 ceil") && kinds.contains("AvgPool2d 3×3 stride 2 pad 1 without padding in the divisor"), kinds.toString());
    }

    /** Imports PyTorch's export {@code name} (a batch of 2), checks its outputs against PyTorch's, and returns its layers' descriptions. */
    private List<String> pytorchNetImports(String name, int inputs) throws IOException {
        float[][] io = pytorchFile(name, inputs);
        try (Model m = OnnxImport.read(dir.resolve(name + ".onnx"), Backends.CPU).model()) {
            assertNearScale(name, io[1], outputs(m, io[0], 2));
            return m.layers().stream().map(Layer::describe).toList();
        }
    }

    /**
     * Zero padding that differs between the sides, F.pad's and nn.ZeroPad2d's, whose pads PyTorch
     * 1.13 computes from int64 constants (ConstantOfShape, Concat, Reshape, Slice with step −1,
     * Transpose, Reshape, Cast): PyTorch's outputs, with the pads as ZeroPad2d layers (left, right,
     * top, bottom). Such a computation asked to make more values than a shape has is refused by node.
     */
    @Test
    void aPyTorchNetPaddedUnevenlyImports() throws IOException {
        List<String> kinds = pytorchNetImports("torch-padded", 2 * 3 * 12 * 11);
        assertTrue(kinds.contains("ZeroPad2d 1,0,2,1") && kinds.contains("ZeroPad2d 0,1,2,1"), kinds.toString());
        OnnxMl.ModelProto.Builder b = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("torch-padded.onnx"))).toBuilder();
        OnnxMl.GraphProto.Builder g = b.getGraphBuilder();
        OnnxMl.NodeProto zeros = g.getNodeList().stream().filter(n -> n.getOpType().equals("ConstantOfShape")).findFirst().orElseThrow();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getOutput(0).equals(zeros.getInput(0))) g.setNode(i, int64Constant(zeros.getInput(0), 1000, 1));
        }
        String m = refusal(write("many-zeros.onnx", b.build()));
        assertTrue(m.contains("node '" + zeros.getName() + "' (ConstantOfShape) of int64 constants: a shape of [1000, 1] (at most 64 values)"), m);
    }

    /**
     * A subgraph is taken for a layer only where its inner values feed nothing else: a sigmoid
     * whose output also goes past the product stays a Sigmoid, and the product of two computed
     * values, which cnn4j has no layer for, is refused by name.
     */
    @Test
    void aPatternWhoseInnerValueIsSharedIsNotTaken() throws IOException {
        OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder().setName("shared")
                .addInput(features("x", 4)).addOutput(features("y", 4))
                .addNode(node("Sigmoid", "sig", "s", "x")).addNode(node("Mul", "silu", "m", "x", "s")).addNode(node("Add", "sum", "y", "m", "s"));
        OnnxMl.ModelProto proto = OnnxMl.ModelProto.newBuilder().setIrVersion(7).setGraph(g)
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setVersion(13)).build();
        String m = refusal(write("shared.onnx", proto));
        assertTrue(m.contains("node 'silu' (Mul): the operator is not supported by cnn4j"), m);
        // unshared, the same two nodes are a SiLU
        g.setNode(2, node("Relu", "sum", "y", "m"));
        try (Model model = OnnxImport.read(write("silu.onnx", proto.toBuilder().setGraph(g).build()), Backends.CPU).model()) {
            assertEquals(List.of("SiLU", "ReLU"), model.layers().stream().map(Layer::describe).toList());
        }
    }

    /**
     * The three ways PyTorch 1.13 writes a flattening: {@code x.reshape(-1, n)} (Reshape by a Constant),
     * {@code x.view(x.size(0), -1)} with a dynamic batch (Shape, Gather, Unsqueeze, Concat, Reshape)
     * and, at a fixed batch, Reshape by [batch, −1]; each in place of fmnist-cnn's Flatten gives the
     * model's outputs. A reshape that is no flattening is refused by name.
     */
    @Test
    void pytorchsFlatteningReshapesImport() throws IOException {
        OnnxMl.ModelProto proto;
        float[] x = random(2 * 28 * 28, 5), expected;
        try (Model m = Models.fmnistCnn().seed(2).build(Backends.CPU)) {
            proto = OnnxExport.toOnnx(m, null);
            expected = outputs(m, x, 2);
        }
        int at = 0;
        while (!proto.getGraph().getNode(at).getOpType().equals("Flatten")) at++;
        OnnxMl.NodeProto flatten = proto.getGraph().getNode(at);
        String in = flatten.getInput(0), out = flatten.getOutput(0);
        int features = 64 * 5 * 5;
        Map<String, List<OnnxMl.NodeProto>> forms = new LinkedHashMap<>();
        forms.put("reshape(-1, n)", List.of(int64Constant("shape", -1, features), node("Reshape", "reshape", out, in, "shape")));
        forms.put("view at batch 2", List.of(int64Constant("shape", 2, -1), node("Reshape", "reshape", out, in, "shape")));
        forms.put("view(x.size(0), -1)", List.of(node("Shape", "shape", "s", in), int64Constant("zero", 0), node("Gather", "gather", "g", "s", "zero"),
                int64Constant("axes", 0), node("Unsqueeze", "unsqueeze", "u", "g", "axes"), int64Constant("rest", -1),
                node("Concat", "concat", "c", "u", "rest").toBuilder().addAttribute(OnnxMl.AttributeProto.newBuilder().setName("axis")
                        .setType(OnnxMl.AttributeProto.AttributeType.INT).setI(0)).build(), node("Reshape", "reshape", out, in, "c")));
        forms.put("reshape(-1, n/2)", List.of(int64Constant("shape", -1, features / 2), node("Reshape", "reshape", out, in, "shape")));
        assertForms(proto, at, 1, forms, x, expected, "reshape(-1, n/2)",
                "node 'reshape' (Reshape): a reshape to [-1, 800] of (64, 5, 5) (only flattening each sample) is not supported by cnn4j");
    }

    /**
     * Each form's nodes in place of {@code removed} nodes of the graph from {@code at} (a form named
     * "... at batch 2" in a file that fixes the batch at 2): the model's outputs, but for the form
     * named {@code refused}, which is refused with {@code refusal} in the message.
     */
    private void assertForms(OnnxMl.ModelProto proto, int at, int removed, Map<String, List<OnnxMl.NodeProto>> forms, float[] x, float[] expected,
            String refused, String refusal) throws IOException {
        for (Map.Entry<String, List<OnnxMl.NodeProto>> form : forms.entrySet()) {
            OnnxMl.GraphProto.Builder g = proto.getGraph().toBuilder();
            for (int i = 0; i < removed; i++) g.removeNode(at);
            for (int i = 0; i < form.getValue().size(); i++) g.addNode(at + i, form.getValue().get(i));
            OnnxMl.ModelProto.Builder b = proto.toBuilder().setGraph(g);
            if (form.getKey().contains("at batch 2")) {
                b.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(0).setDimValue(2);
            }
            Path f = write(form.getKey().replaceAll("\\W", "") + ".onnx", b.build());
            if (form.getKey().equals(refused)) {
                String m = refusal(f);
                assertTrue(m.contains(refusal), form.getKey() + ": " + m);
                continue;
            }
            try (Model m = OnnxImport.read(f, Backends.CPU).model()) {
                assertArrayEquals(expected, outputs(m, x, 2), form.getKey());
            }
        }
    }

    /**
     * PyTorch's exporter keeps one initializer for parameters of equal values (a fresh model's zero
     * biases, say) and names it again for each user through an Identity node; an Identity of an int64
     * Constant names a shape the same way. With every weight and the flattening's shape so named, the
     * model's outputs.
     */
    @Test
    void identitiesOfConstantsNameThoseConstants() throws IOException {
        Exported e = exported(Models.fmnistCnn(), 3, 6);
        OnnxMl.GraphProto.Builder g = e.proto().getGraph().toBuilder();
        Set<String> weights = new HashSet<>();
        for (OnnxMl.TensorProto t : g.getInitializerList()) weights.add(t.getName());
        List<OnnxMl.NodeProto> aliases = new ArrayList<>();
        for (OnnxMl.NodeProto.Builder n : g.getNodeBuilderList()) {
            for (int i = 0; i < n.getInputCount(); i++) {
                if (!weights.contains(n.getInput(i))) continue;
                aliases.add(node("Identity", "Identity_" + aliases.size(), "onnx::" + n.getInput(i), n.getInput(i)));
                n.setInput(i, "onnx::" + n.getInput(i));
            }
        }
        int flatten = 0;
        while (!g.getNode(flatten).getOpType().equals("Flatten")) flatten++;
        OnnxMl.NodeProto f = g.getNode(flatten);
        g.removeNode(flatten).addNode(flatten, int64Constant("shape", -1, 64 * 5 * 5)).addNode(flatten + 1, node("Identity", "Identity_shape", "same shape", "shape"))
                .addNode(flatten + 2, node("Reshape", "reshape", f.getOutput(0), f.getInput(0), "same shape"));
        for (int i = 0; i < aliases.size(); i++) g.addNode(i, aliases.get(i)); // first, as PyTorch writes them
        assertTrue(aliases.size() >= 4, "every weight named again: " + aliases.size());
        try (Model m = OnnxImport.read(write("aliases.onnx", e.proto().toBuilder().setGraph(g).build()), Backends.CPU).model()) {
            assertArrayEquals(e.expected(), outputs(m, e.x(), 2));
            assertTrue(m.layers().stream().noneMatch(l -> l instanceof org.cnn4j.layer.Identity), "no layer for an Identity of a constant");
        }
    }

    /** A GlobalMaxPool ({@code nn.AdaptiveMaxPool2d(1)}) is the max pooling of the whole image. */
    @Test
    void aGlobalMaxPoolIsAMaxPoolingOfTheWholeImage() throws IOException {
        Exported e = exported(Sequential.builder().input(2, 6, 5).add(new Conv2d(2, 4, 3).padding(1)).add(new ReLU()).add(new MaxPool2d(6, 5))
                .add(new Flatten()).add(new Dense(4, 3)).loss(new SoftmaxCrossEntropy()), 9, 12);
        OnnxMl.GraphProto.Builder g = e.proto().getGraph().toBuilder();
        int at = 0;
        while (!g.getNode(at).getOpType().equals("MaxPool")) at++;
        OnnxMl.NodeProto max = g.getNode(at);
        g.setNode(at, node("GlobalMaxPool", "global", max.getOutput(0), max.getInput(0)));
        try (Model m = OnnxImport.read(write("globalmax.onnx", e.proto().toBuilder().setGraph(g).build()), Backends.CPU).model()) {
            assertArrayEquals(e.expected(), outputs(m, e.x(), 2));
        }
    }

    /**
     * torch.export writes a max pooling as max_pool2d_with_indices: a MaxPool whose second output,
     * the indices, nothing takes. Such a node is the max pooling; one whose indices a node takes is
     * refused by name.
     */
    @Test
    void aMaxPoolsUnusedIndicesAreNoMatter() throws IOException {
        Exported e = exported(Models.fmnistCnn(), 10, 13);
        OnnxMl.GraphProto.Builder g = e.proto().getGraph().toBuilder();
        int at = 0;
        while (!g.getNode(at).getOpType().equals("MaxPool")) at++;
        g.getNodeBuilder(at).addOutput("indices");
        try (Model m = OnnxImport.read(write("indices.onnx", e.proto().toBuilder().setGraph(g).build()), Backends.CPU).model()) {
            assertArrayEquals(e.expected(), outputs(m, e.x(), 2));
        }
        int flatten = 0;
        while (!g.getNode(flatten).getOpType().equals("Flatten")) flatten++;
        g.getNodeBuilder(flatten).setInput(0, "indices");
        String m = refusal(write("used-indices.onnx", e.proto().toBuilder().setGraph(g).build()));
        assertTrue(m.contains("(MaxPool): indices is not supported by cnn4j"), m);
    }

    /** A Concat of one value (DenseNet's first layer of each block, as PyTorch writes it) is that value. */
    @Test
    void aConcatOfOneValueIsThatValue() throws IOException {
        Exported e = exported(Models.fmnistCnn(), 4, 7);
        OnnxMl.GraphProto.Builder g = e.proto().getGraph().toBuilder();
        OnnxMl.NodeProto.Builder conv = g.getNodeBuilder(0);
        String out = conv.getOutput(0);
        conv.setOutput(0, "before concat");
        g.addNode(1, node("Concat", "concat", out, "before concat").toBuilder().addAttribute(OnnxMl.AttributeProto.newBuilder().setName("axis")
                .setType(OnnxMl.AttributeProto.AttributeType.INT).setI(1)).build());
        try (Model m = OnnxImport.read(write("concat1.onnx", e.proto().toBuilder().setGraph(g).build()), Backends.CPU).model()) {
            assertArrayEquals(e.expected(), outputs(m, e.x(), 2));
        }
    }

    /**
     * PyTorch writes {@code x.mean((2, 3))} as ReduceMean: over h and w (either sign of the axes, as an
     * attribute or, from opset 18, an input) it is a global average pooling, with or without the
     * dimensions kept; over the channels it is refused by name. A pooling's (c, 1, 1) value flattened
     * by {@code x.view(x.size(0), -1)}, as many ResNets do, or squeezed of h and w gives the model's
     * outputs too; a squeeze of the channels is refused.
     */
    @Test
    void aMeanOverTheImageIsAGlobalAveragePooling() throws IOException {
        Exported e = exported(Models.resnet20(3, 16, 16, 5), 5, 8);
        OnnxMl.ModelProto proto = e.proto();
        float[] x = e.x(), expected = e.expected();
        int at = 0;
        while (!proto.getGraph().getNode(at).getOpType().equals("GlobalAveragePool")) at++;
        OnnxMl.NodeProto pool = proto.getGraph().getNode(at), flatten = proto.getGraph().getNode(at + 1);
        OnnxMl.AttributeProto.Builder keep = OnnxMl.AttributeProto.newBuilder().setName("keepdims").setType(OnnxMl.AttributeProto.AttributeType.INT);
        OnnxMl.AttributeProto.Builder axes = OnnxMl.AttributeProto.newBuilder().setName("axes").setType(OnnxMl.AttributeProto.AttributeType.INTS);
        String in = pool.getInput(0), out = flatten.getOutput(0);
        Map<String, List<OnnxMl.NodeProto>> forms = new LinkedHashMap<>();
        forms.put("x.mean((2, 3))", List.of(node("ReduceMean", "mean", out, in).toBuilder().addAttribute(axes.clone().addInts(2).addInts(3)).addAttribute(keep.clone().setI(0)).build()));
        forms.put("x.mean((-1, -2), keepdim=True), flatten", List.of(node("ReduceMean", "mean", pool.getOutput(0), in).toBuilder()
                .addAttribute(axes.clone().addInts(-1).addInts(-2)).build(), flatten));
        forms.put("x.mean((2, 3), keepdim=True).reshape(-1, 64)", List.of(node("ReduceMean", "mean", pool.getOutput(0), in).toBuilder()
                .addAttribute(axes.clone().addInts(2).addInts(3)).build(), int64Constant("shape", -1, 64), node("Reshape", "flat", out, pool.getOutput(0), "shape")));
        String pooled = pool.getOutput(0);
        forms.put("GlobalAveragePool, view(x.size(0), -1)", List.of(pool, node("Shape", "shape", "s", pooled), int64Constant("zero", 0),
                node("Gather", "gather", "g", "s", "zero"), int64Constant("axes", 0), node("Unsqueeze", "unsqueeze", "u", "g", "axes"),
                int64Constant("rest", -1), node("Concat", "concat", "c", "u", "rest").toBuilder().addAttribute(intAttribute("axis", 0)).build(),
                node("Reshape", "view", out, pooled, "c")));
        forms.put("GlobalAveragePool, squeeze(-1).squeeze(-1)", List.of(pool, int64Constant("last", -1), node("Squeeze", "squeeze1", "s1", pooled, "last"),
                node("Squeeze", "squeeze2", out, "s1", "last")));
        forms.put("GlobalAveragePool, squeeze((2, 3))", List.of(pool, int64Constant("hw", 2, 3), node("Squeeze", "squeeze", out, pooled, "hw")));
        forms.put("opset 18", List.of(int64Constant("axes", 2, 3), node("ReduceMean", "mean", out, in, "axes").toBuilder().addAttribute(keep.clone().setI(0)).build()));
        forms.put("x.mean(1)", List.of(node("ReduceMean", "mean", out, in).toBuilder().addAttribute(axes.clone().addInts(1)).addAttribute(keep.clone().setI(0)).build()));
        assertForms(proto, at, 2, forms, x, expected, "x.mean(1)", "node 'mean' (ReduceMean): a mean over axes [1] (only over h and w) is not supported by cnn4j");
        OnnxMl.GraphProto.Builder g = proto.getGraph().toBuilder().removeNode(at + 1).addNode(at + 1, int64Constant("channels", 1))
                .addNode(at + 2, node("Squeeze", "squeeze", out, pooled, "channels"));
        String m = refusal(write("squeeze1.onnx", proto.toBuilder().setGraph(g).build()));
        assertTrue(m.contains("node 'squeeze' (Squeeze): a squeeze of axes [1] of a pooled value (only of h and w, both 1) is not supported by cnn4j"), m);
    }

    /**
     * A PyTorch model exported with its final {@code nn.Softmax(dim=1)} or {@code F.log_softmax(x, 1)}
     * (as the classic MNIST example ends) is read as the logits before it, which the cross-entropy
     * loss and the classifier put through the softmax themselves: the imported model outputs the
     * logits, with no Softmax layer, so its probabilities are PyTorch's and training it minimises
     * PyTorch's cross-entropy, not that of a softmax applied twice.
     */
    @Test
    void aFinalSoftmaxIsTheClassifiers() throws IOException {
        Exported e = exported(Models.fmnistCnn(), 8, 11);
        OnnxMl.ModelProto proto = e.proto();
        float[] x = e.x(), expected = e.expected();
        String logits = proto.getGraph().getOutput(0).getName();
        for (String op : List.of("Softmax", "LogSoftmax")) {
            OnnxMl.GraphProto.Builder g = proto.getGraph().toBuilder();
            g.getNodeBuilder(g.getNodeCount() - 1).setOutput(0, "logits");
            g.addNode(node(op, "probabilities", logits, "logits").toBuilder().addAttribute(intAttribute("axis", 1)));
            try (Model m = OnnxImport.read(write(op + ".onnx", proto.toBuilder().setGraph(g).build()), Backends.CPU).model()) {
                assertArrayEquals(expected, outputs(m, x, 2), op);
                assertTrue(m.layers().stream().noneMatch(l -> l instanceof Softmax), op + ": no Softmax layer");
            }
        }
    }

    /**
     * An exporter that does not fold constants (as onnxscript's torch library writes
     * {@code x.mean((2, 3), keepdim=True)} and {@code view(2, -1)} before optimisation) builds its
     * axes and shapes from Constant nodes of {@code value_ints} joined by Concat and reshaped by
     * Reshape, and marks the reshape {@code allowzero}: those int64 nodes fold into constants and
     * the model gives its outputs. A Reshape with allowzero to a shape with a 0 is refused.
     */
    @Test
    void shapesBuiltFromConstantsFold() throws IOException {
        Exported e = exported(Models.resnet20(3, 16, 16, 5), 7, 10);
        OnnxMl.ModelProto proto = e.proto();
        float[] x = e.x(), expected = e.expected();
        int layers = e.layers();
        int at = 0;
        while (!proto.getGraph().getNode(at).getOpType().equals("GlobalAveragePool")) at++;
        String in = proto.getGraph().getNode(at).getInput(0), out = proto.getGraph().getNode(at + 1).getOutput(0);
        for (long zero : new long[] {2, 0}) {
            OnnxMl.GraphProto.Builder g = proto.getGraph().toBuilder().removeNode(at).removeNode(at);
            List<OnnxMl.NodeProto> nodes = List.of(ints("minus one", -1), ints("dims", 2, 3), node("Reshape", "axes", "axes", "dims", "minus one"),
                    node("ReduceMean", "mean", "pooled", in, "axes"), ints("batch", zero), ints("features", 64),
                    node("Concat", "shape", "shape", "batch", "features").toBuilder().addAttribute(intAttribute("axis", 0)).build(),
                    node("Reshape", "view", out, "pooled", "shape").toBuilder().addAttribute(intAttribute("allowzero", 1)).build());
            for (int i = 0; i < nodes.size(); i++) g.addNode(at + i, nodes.get(i));
            OnnxMl.ModelProto.Builder b = proto.toBuilder().setGraph(g);
            b.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(0).setDimValue(2);
            Path f = write("unfolded" + zero + ".onnx", b.build());
            if (zero == 0) {
                String m = refusal(f);
                assertTrue(m.contains("node 'view' (Reshape): a reshape to [0, 64] with allowzero (a dimension of 0) is not supported by cnn4j"), m);
                continue;
            }
            try (Model m = OnnxImport.read(f, Backends.CPU).model()) {
                assertArrayEquals(expected, outputs(m, x, 2));
                assertEquals(layers + 1, m.layers().size(), "the shape's nodes are no layers; the pooling and the flattening are two");
            }
        }
    }

    /** A Constant node of {@code value_ints}. */
    private static OnnxMl.NodeProto ints(String output, long... values) {
        OnnxMl.AttributeProto.Builder a = OnnxMl.AttributeProto.newBuilder().setName("value_ints").setType(OnnxMl.AttributeProto.AttributeType.INTS);
        for (long v : values) a.addInts(v);
        return OnnxMl.NodeProto.newBuilder().setOpType("Constant").setName(output).addOutput(output).addAttribute(a).build();
    }

    private static OnnxMl.AttributeProto intAttribute(String name, long value) {
        return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INT).setI(value).build();
    }

    /**
     * PyTorch 2.9 and newer write weights as external data by default: {@code model.onnx.data} beside
     * {@code model.onnx}, each initializer naming its location, offset and length there. Such a file
     * gives the model's outputs; a missing data file, a location outside the model's folder (by
     * {@code ..}, an absolute path or a link), a range beyond the data file and a length that does
     * not fit the tensor are each refused by name.
     */
    @Test
    void weightsStoredBesideTheFileAreRead() throws IOException {
        Exported e = exported(Models.fmnistCnn(), 6, 9);
        OnnxMl.ModelProto proto = e.proto();
        float[] x = e.x(), expected = e.expected();
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        data.write(new byte[100]); // the first tensor at a nonzero offset
        OnnxMl.GraphProto.Builder g = proto.getGraph().toBuilder();
        for (OnnxMl.TensorProto.Builder t : g.getInitializerBuilderList()) {
            byte[] raw = t.getRawData().toByteArray();
            assertTrue(raw.length > 0, "the export writes raw_data");
            t.clearRawData().setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL).addExternalData(entry("location", "weights/model.onnx.data"))
                    .addExternalData(entry("offset", Integer.toString(data.size()))).addExternalData(entry("length", Integer.toString(raw.length)));
            data.write(raw);
        }
        Files.createDirectories(dir.resolve("weights"));
        Files.write(dir.resolve("weights/model.onnx.data"), data.toByteArray());
        Path f = write("external.onnx", proto.toBuilder().setGraph(g).build());
        try (Model m = OnnxImport.read(f, Backends.CPU).model()) {
            assertArrayEquals(expected, outputs(m, x, 2));
        }
        String first = g.getInitializer(0).getName();
        Map<String, String> hostile = new LinkedHashMap<>();
        hostile.put("location:gone.data", "is stored in " + dir.resolve("gone.data") + ", which is missing or not a file");
        hostile.put("location:../model.onnx.data", "is stored in '../model.onnx.data'; cnn4j reads external data only from files in the model's folder or below");
        hostile.put("location:" + dir.resolve("weights/model.onnx.data"), "only from files in the model's folder or below");
        hostile.put("location:link.data", "a link to a file outside the model's folder");
        hostile.put("offset:" + (data.size() - 8), "which has " + data.size());
        hostile.put("offset:-4", "which has " + data.size());
        hostile.put("length:12", "its external data length says 12");
        hostile.put("offset:ten", "external data offset 'ten' is not a number");
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.copy(dir.resolve("weights/model.onnx.data"), outside.resolve("model.onnx.data"));
        Path inner = Files.createDirectories(dir.resolve("inner"));
        Files.createSymbolicLink(inner.resolve("link.data"), outside.resolve("model.onnx.data"));
        for (Map.Entry<String, String> c : hostile.entrySet()) {
            String key = c.getKey().substring(0, c.getKey().indexOf(':')), value = c.getKey().substring(key.length() + 1);
            OnnxMl.GraphProto.Builder bad = g.clone();
            OnnxMl.TensorProto.Builder t = bad.getInitializerBuilder(0);
            for (int i = 0; i < t.getExternalDataCount(); i++) if (t.getExternalData(i).getKey().equals(key)) t.setExternalData(i, entry(key, value));
            Path at = key.equals("location") && value.equals("link.data") ? inner : dir;
            Path file = at.resolve("hostile.onnx");
            Files.write(file, proto.toBuilder().setGraph(bad).build().toByteArray());
            String m = refusal(file);
            assertTrue(m.startsWith(file + ": initializer '" + first + "'") && m.contains(c.getValue()), c.getKey() + ": " + m);
        }
    }

    private static OnnxMl.StringStringEntryProto entry(String key, String value) {
        return OnnxMl.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    /**
     * A Conv padded unevenly (pads [1, 1, 0, 0], as auto_pad SAME_LOWER makes them for an even
     * filter) comes in as a ZeroPad2d before an unpadded convolution: the outputs of the cnn4j model
     * written with that padding explicit.
     */
    @Test
    void aConvPaddedUnevenlyIsReadAsAZeroPadding() throws IOException {
        float[] x = random(2 * 2 * 9 * 9, 8), expected;
        OnnxMl.ModelProto proto;
        try (Model m = Graph.builder().input(2, 9, 9).add("pad", new ZeroPad2d(1, 0, 1, 0), Model.INPUT).add("conv", new Conv2d(2, 3, 2).stride(2))
                .add("relu", new ReLU()).add("gap", new GlobalAvgPool2d()).loss(new SoftmaxCrossEntropy()).seed(4).build(Backends.CPU)) {
            expected = outputs(m, x, 2);
            proto = OnnxExport.toOnnx(m, null);
        }
        assertEquals("Pad", proto.getGraph().getNode(0).getOpType());
        try (Model back = OnnxImport.read(write("pad.onnx", proto), Backends.CPU).model()) {
            assertArrayEquals(expected, outputs(back, x, 2), "ZeroPad2d goes out as Pad and comes back");
        }
        OnnxMl.GraphProto.Builder g = proto.getGraph().toBuilder().removeNode(0);
        OnnxMl.NodeProto.Builder conv = g.getNodeBuilder(0).setInput(0, Model.INPUT);
        for (int i = 0; i < conv.getAttributeCount(); i++) {
            if (conv.getAttribute(i).getName().equals("pads")) conv.setAttribute(i, conv.getAttribute(i).toBuilder().clearInts().addAllInts(List.of(1L, 1L, 0L, 0L)));
        }
        try (Model back = OnnxImport.read(write("uneven.onnx", proto.toBuilder().setGraph(g).build()), Backends.CPU).model()) {
            assertEquals(List.of("ZeroPad2d 1,0,1,0", "Conv2d 2→3 2×2 stride 2"), back.layers().subList(0, 2).stream().map(Layer::describe).toList());
            assertArrayEquals(expected, outputs(back, x, 2));
        }
    }

    /** A Constant node of an int64 tensor: one value as a scalar, several as a vector. */
    private static OnnxMl.NodeProto int64Constant(String output, long... values) {
        OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder().setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber());
        if (values.length > 1 || output.equals("axes") || output.equals("rest")) t.addDims(values.length);
        for (long v : values) t.addInt64Data(v);
        return OnnxMl.NodeProto.newBuilder().setOpType("Constant").addOutput(output).addAttribute(OnnxMl.AttributeProto.newBuilder()
                .setName("value").setType(OnnxMl.AttributeProto.AttributeType.TENSOR).setT(t)).build();
    }

    private static OnnxMl.NodeProto node(String op, String name, String output, String... inputs) {
        return OnnxMl.NodeProto.newBuilder().setOpType(op).setName(name).addOutput(output).addAllInput(List.of(inputs)).build();
    }

    /** A (batch, n) float value. */
    private static OnnxMl.ValueInfoProto features(String name, int n) {
        OnnxMl.TensorShapeProto shape = OnnxMl.TensorShapeProto.newBuilder()
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(n)).build();
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder().setTensorType(
                OnnxMl.TypeProto.Tensor.newBuilder().setElemType(OnnxMl.TensorProto.DataType.FLOAT.getNumber()).setShape(shape))).build();
    }

    /** Copies {@code name}.onnx into the test's directory; returns its input (the first {@code inputs} floats of {@code name}-io.bin) and PyTorch's outputs. */
    private float[][] pytorchFile(String name, int inputs) throws IOException {
        try (var in = getClass().getResourceAsStream("/onnx/" + name + ".onnx")) {
            Files.copy(in, dir.resolve(name + ".onnx"));
        }
        byte[] io;
        try (var in = getClass().getResourceAsStream("/onnx/" + name + "-io.bin")) {
            io = in.readAllBytes();
        }
        float[] all = new float[io.length / 4];
        java.nio.ByteBuffer.wrap(io).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(all);
        return new float[][] {Arrays.copyOf(all, inputs), Arrays.copyOfRange(all, inputs, all.length)};
    }

    /** Every output within 1e-5 of the largest expected magnitude. */
    private static void assertNearScale(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what);
        double scale = 0, worst = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= 1e-5 * scale, what + ": off by " + worst + " at a scale of " + scale);
    }

    /** A classifier loads the ONNX file: classes by number, pixels scaled to [0, 1], the same logits as the model. */
    @Test
    void aClassifierLoadsOnnxFiles() throws IOException {
        Path onnx = dir.resolve("torch-resnet20.onnx");
        try (var in = getClass().getResourceAsStream("/onnx/torch-resnet20.onnx")) {
            Files.copy(in, onnx);
        }
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(32, 32, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++) image.setRGB(x, y, (x * 8) << 16 | (y * 8) << 8 | ((x + y) * 4));
        float[] pixels = new float[3 * 32 * 32];
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                pixels[y * 32 + x] = x * 8 / 255f;
                pixels[1024 + y * 32 + x] = y * 8 / 255f;
                pixels[2048 + y * 32 + x] = (x + y) * 4 / 255f;
            }
        }
        try (org.cnn4j.model.Classifier c = org.cnn4j.model.Classifier.load(onnx, Backends.CPU);
             Model m = OnnxImport.read(onnx, Backends.CPU).model()) {
            List<org.cnn4j.model.Classifier.Scored> best = c.predict(image, 10);
            double[] p = org.cnn4j.model.Classifier.scores(outputs(m, pixels, 1), 0, 10, true);
            for (org.cnn4j.model.Classifier.Scored s : best) {
                assertEquals(Integer.toString(s.index()), s.name());
                assertEquals(p[s.index()], s.score(), 1e-6);
            }
        }
    }

    /** Bad files are refused by name, without allocating what they claim. */
    @Test
    void malformedFilesAreNamed() throws IOException {
        Path good = dir.resolve("good.onnx");
        try (Model m = Models.fmnistCnn().seed(1).build(Backends.CPU)) {
            OnnxExport.write(good, m, null);
        }
        byte[] bytes = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.onnx");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
        assertTrue(refusal(cut).contains("not an ONNX model (protobuf)"), refusal(cut));

        OnnxMl.ModelProto proto = OnnxMl.ModelProto.parseFrom(bytes);
        OnnxMl.ModelProto.Builder b = proto.toBuilder();
        OnnxMl.TensorProto w = b.getGraph().getInitializer(0);
        b.getGraphBuilder().setInitializer(0, w.toBuilder().setDims(0, 1L << 40));
        String m = refusal(write("absurd.onnx", b.build()));
        assertTrue(m.contains("claims a dimension of 1099511627776"), m);

        b = proto.toBuilder();
        b.getGraphBuilder().setInitializer(0, w.toBuilder().setDims(0, 64));
        m = refusal(write("short.onnx", b.build()));
        assertTrue(m.contains("initializer 'conv1.weight' of shape [64, 1, 3, 3] needs 576 floats, the file holds 1152 bytes"), m);

        m = refusal(write("group3.onnx", withGroup(proto, 3)));
        assertTrue(m.contains("node 'conv1' (Conv): group 3 for 32 filters is not supported by cnn4j"), m);
        m = refusal(write("group2.onnx", withGroup(proto, 2)));
        assertTrue(m.contains("layer 'conv1' (Conv2d 2→32 3×3 groups 2) expects input (n, 2, h, w) but gets (n, 1, 28, 28)"), m);

        b = proto.toBuilder(); // an int64 constant (a shape) that claims more values than a shape has
        OnnxMl.NodeProto.Builder huge = int64Constant("huge", 1, 2).toBuilder();
        huge.getAttributeBuilder(0).getTBuilder().setDims(0, 1L << 40);
        b.getGraphBuilder().addNode(0, huge);
        m = refusal(write("huge-shape.onnx", b.build()));
        assertTrue(m.contains("int64 constant 'huge' claims a dimension of 1099511627776"), m);

        b = proto.toBuilder(); // cnn4j's own operators stand only for the subgraphs the import recognised
        b.getGraphBuilder().setNode(1, b.getGraph().getNode(1).toBuilder().setOpType("cnn4j.SiLU"));
        m = refusal(write("own.onnx", b.build()));
        assertTrue(m.contains("node 'relu1' (cnn4j.SiLU): the operator is not supported by cnn4j"), m);

        b = proto.toBuilder();
        b.getGraphBuilder().setNode(1, b.getGraph().getNode(1).toBuilder().setOpType("Selu"));
        m = refusal(write("selu.onnx", b.build()));
        assertTrue(m.contains("node 'relu1' (Selu): the operator is not supported by cnn4j"), m);
    }

    /** The model with its first node's (a Conv's) group attribute set to {@code group}. */
    private static OnnxMl.ModelProto withGroup(OnnxMl.ModelProto proto, int group) {
        OnnxMl.ModelProto.Builder b = proto.toBuilder();
        OnnxMl.NodeProto.Builder conv = b.getGraph().getNode(0).toBuilder();
        for (int i = 0; i < conv.getAttributeCount(); i++) {
            if (conv.getAttribute(i).getName().equals("group")) conv.setAttribute(i, conv.getAttribute(i).toBuilder().setI(group));
        }
        b.getGraphBuilder().setNode(0, conv);
        return b.build();
    }

    private Path write(String name, OnnxMl.ModelProto proto) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, proto.toByteArray());
        return f;
    }

    private static String refusal(Path f) {
        return assertThrows(FileFormatException.class, () -> OnnxImport.read(f, Backends.CPU).model().close()).getMessage();
    }
}
