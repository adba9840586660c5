package org.cnn4j.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.layer.Add;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.BatchNorm1d;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Concat;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
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
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.ResidualNets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exported models run by ONNX Runtime (an independent implementation) on random inputs give
 * cnn4j's outputs: within 1e-5 of the outputs' scale (float32 sums in another order).
 */
class OnnxExportTest {
    @TempDir
    Path dir;

    /** Random running statistics, so that batch normalisation's inference form is tested, not the identity. */
    private static void randomiseRunningStatistics(Model m, long seed) {
        Random rng = new Random(seed);
        for (Layer.State s : m.state()) {
            if (s.name().endsWith("num_batches_tracked")) continue;
            float[] v = new float[s.value().shape().size()];
            boolean variance = s.name().endsWith("running_var");
            for (int i = 0; i < v.length; i++) v[i] = variance ? 0.5f + rng.nextFloat() : (float) rng.nextGaussian() * 0.3f;
            m.backend().write(s.value(), v);
        }
    }

    private void agrees(Model m, String file) throws Exception {
        randomiseRunningStatistics(m, 5);
        int n = 3, size = m.inputShape().size();
        float[] x = new float[n * size];
        Random rng = new Random(11);
        for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
        Tensor input = m.backend().upload(m.inputShape().batch(n), x);
        float[] ours = m.forward(input, Pass.INFERENCE).toFloatArray();
        input.close();
        Path onnx = dir.resolve(file);
        DataInfo info = new DataInfo("t", java.util.stream.IntStream.range(0, m.outputShape().size()).mapToObj(i -> "c" + i).toList(),
                Normalization.identity(m.inputShape().rank() == 3 ? m.inputShape().dim(0) : 1));
        OnnxExport.write(onnx, m, info);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        long[] shape = new long[m.inputShape().rank() + 1];
        shape[0] = n;
        for (int i = 0; i < m.inputShape().rank(); i++) shape[i + 1] = m.inputShape().dim(i);
        try (OrtSession session = env.createSession(onnx.toString(), new OrtSession.SessionOptions());
             OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
             OrtSession.Result result = session.run(Map.of(Model.INPUT, in))) {
            float[] theirs = ((OnnxTensor) result.get(0)).getFloatBuffer().array();
            assertEquals(ours.length, theirs.length, file);
            double scale = 0, worst = 0;
            for (float v : ours) scale = Math.max(scale, Math.abs(v));
            for (int i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
            assertTrue(scale > 0 && worst <= 1e-5 * scale, file + ": off by " + worst + " at a scale of " + scale);
        }
    }

    /** Every built-in model, LeNet-5's subsampling and map combinations included. */
    @Test
    void builtInModelsRunInOnnxRuntimeAsInCnn4j() throws Exception {
        assertEquals(List.of("fmnist-cnn", "lenet5", "vgg-small", "resnet20", "resnet18"), Models.NAMES);
        for (String name : Models.NAMES) {
            try (Model m = Models.byName(name).seed(3).build(Backends.CPU)) {
                agrees(m, name + ".onnx");
            }
        }
    }

    /**
     * Depthwise and grouped convolutions (Conv's {@code group}) with batch normalisation; poolings
     * in ceil mode, an average without the padding in its divisor.
     */
    @Test
    void groupsAndPoolingModesRunInOnnxRuntimeAsInCnn4j() throws Exception {
        try (Model m = ResidualNets.separable(3, 12, 4, 5).seed(6).build(Backends.CPU)) {
            agrees(m, "separable.onnx");
        }
        try (Model m = ResidualNets.poolingModes(3, 13, 4, 5).seed(6).build(Backends.CPU)) {
            agrees(m, "pooling-modes.onnx");
        }
    }

    /**
     * Averages in ceil mode whose last windows reach past the input, which divide by the taps within
     * the padded input, as PyTorch and the ONNX specification do (ONNX Runtime 1.22 divided by the
     * whole window): 2 × 2 windows every 2 over 3 × 3; and poolings whose one window is larger than
     * the input (by less than a stride, as PyTorch allows): a max over 3 × 3 by a 4 × 4 window,
     * averages over 2 × 2 padded by 1 by a 5 × 5 window, counting the padding and not.
     */
    @Test
    void windowsLargerThanTheirInputRunInOnnxRuntimeAsInCnn4j() throws Exception {
        try (Model m = Graph.builder().input(2, 3, 3).add("conv", new Conv2d(2, 3, 3).padding(1), Graph.INPUT)
                .add("max", new MaxPool2d(4).stride(2).ceilMode(true)).add("flat", new Flatten()).add("fc", new Dense(3, 4))
                .loss(new SoftmaxCrossEntropy()).seed(8).build(Backends.CPU)) {
            agrees(m, "larger-max.onnx");
        }
        try (Model m = Graph.builder().input(2, 3, 3).add("conv", new Conv2d(2, 3, 1), Graph.INPUT)
                .add("avg", new AvgPool2d(2).stride(2).ceilMode(true)).add("flat", new Flatten())
                .loss(new SoftmaxCrossEntropy()).seed(8).build(Backends.CPU)) {
            agrees(m, "ceil-avg.onnx");
        }
        for (boolean counted : new boolean[] {true, false}) {
            try (Model m = Graph.builder().input(2, 2, 2).add("conv", new Conv2d(2, 3, 1), Graph.INPUT)
                    .add("avg", new AvgPool2d(5).countIncludePad(counted).stride(2).padding(1).ceilMode(true)).add("flat", new Flatten()).loss(new SoftmaxCrossEntropy()).seed(8).build(Backends.CPU)) {
                agrees(m, "larger-avg-" + counted + ".onnx");
            }
        }
    }

    /** Every other layer the exporter knows: each activation, both poolings with padding, Concat, Dropout, BatchNorm1d, Softmax. */
    @Test
    void everyExportedLayerKindRunsAsInCnn4j() throws Exception {
        Graph.Builder b = Graph.builder().input(3, 12, 12);
        b.add("conv", new Conv2d(3, 6, 3).padding(1).stride(1, 1).bias(true), Model.INPUT);
        b.add("bn", new BatchNorm2d(6), "conv");
        b.add("leaky", new LeakyReLU(0.2), "bn");
        b.add("silu", new SiLU(), "bn");
        b.add("gelu", new GELU(), "bn");
        b.add("tanh", new Tanh(), "bn");
        b.add("sig", new Sigmoid(), "bn");
        b.add("stanh", new ScaledTanh(), "bn");
        b.add("cat", new Concat(), "leaky", "silu", "gelu");
        b.add("mix", new Add(), "tanh", "sig");
        b.add("mix2", new Add(), "mix", "stanh");
        b.add("cat2", new Concat(), "cat", "mix2");
        b.add("max", new MaxPool2d(3).dilation(2, 1).stride(2, 2).padding(1, 1), "cat2");
        b.add("avg", new AvgPool2d(2).padding(1, 1), "max");
        b.add("relu", new ReLU(), "avg");
        b.add("gap", new GlobalAvgPool2d(), "relu");
        b.add("drop", new Dropout(0.5), "gap");
        b.add("fc", new Dense(24, 10), "drop");
        b.add("bn1", new BatchNorm1d(10), "fc");
        b.add("flat", new Flatten(), "bn1");
        b.add("fc2", new Dense(10, 4), "flat");
        b.add("softmax", new Softmax(), "fc2");
        try (Model m = b.loss(new SoftmaxCrossEntropy()).seed(4).build(Backends.CPU)) {
            agrees(m, "every.onnx");
        }
    }

    @Test
    void theFileStatesItsOpsetAndCarriesTheDataDescription() throws IOException {
        try (Model m = Models.fmnistCnn().seed(1).build(Backends.CPU)) {
            DataInfo info = new DataInfo("clothes", java.util.stream.IntStream.range(0, 10).mapToObj(i -> "k" + i).toList(),
                    new Normalization(new double[] {0.28}, new double[] {0.35}));
            Path f = dir.resolve("m.onnx");
            OnnxExport.write(f, m, info);
            OnnxMl.ModelProto proto = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(f));
            assertEquals(OnnxExport.OPSET, proto.getOpsetImport(0).getVersion());
            assertEquals("", proto.getOpsetImport(0).getDomain());
            assertEquals("1", proto.getMetadataPropsList().stream().filter(p -> p.getKey().equals("cnn4j.seed")).findFirst().orElseThrow().getValue());
            String data = proto.getMetadataPropsList().stream().filter(p -> p.getKey().equals("cnn4j.data")).findFirst().orElseThrow().getValue();
            assertTrue(data.contains("\"k9\"") && data.contains("0.28"), data);
            assertEquals(8, proto.getGraph().getInitializerCount(), "two convolutions and two dense layers, weights and biases");
        }
    }

    /** A layer kind a program registered itself, which the exporter cannot know. */
    private static final class Doubling extends Layer {
        @Override
        public String describe() {
            return "Doubling";
        }

        @Override
        protected Shape build(Shape input, Random rng) {
            return input;
        }

        @Override
        protected Tensor forwardPass(Tensor x, Pass pass) {
            Tensor y = buffer("y", x.shape());
            backend().add(y, x, x);
            return y;
        }

        @Override
        protected Tensor backwardPass(Tensor dy) {
            Tensor dx = buffer("dx", dy.shape());
            backend().add(dx, dy, dy);
            return dx;
        }

        @Override
        protected long multiplyAccumulates() {
            return 0;
        }
    }

    @Test
    void aLayerWithoutAnOnnxFormIsNamed() {
        try (Model m = Sequential.builder().input(4).add("twice", new Doubling()).add("fc", new Dense(4, 2)).loss(new SoftmaxCrossEntropy())
                .build(Backends.CPU)) {
            String msg = assertThrows(IllegalArgumentException.class, () -> OnnxExport.toOnnx(m, null)).getMessage();
            assertTrue(msg.contains("layer 'twice' (Doubling) has no ONNX form"), msg);
        }
    }
}
