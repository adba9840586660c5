package org.cnn4j.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

import javax.imageio.ImageIO;

import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Datasets;
import org.cnn4j.data.Images;
import org.cnn4j.data.Normalization;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.io.ModelFile;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.Subsampling;
import org.cnn4j.layer.Tanh;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Adam;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.train.Trainer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutations of real model files, checkpoints, ONNX files, IDX datasets and images, a few thousand in
 * all, fed to the readers in a JVM of 256 MiB (tag small-heap). Each input must either load (and
 * then work) or be refused with a {@link FileFormatException}; any other exception, any error
 * (out of memory included) and any input that takes more than {@value #SECONDS_PER_INPUT} s fails
 * the test, naming the input's seed so that it can be replayed.
 */
@Tag("small-heap")
class FuzzTest {
    static final int SECONDS_PER_INPUT = 3;
    private static final String[] NUMBERS = {"0", "-1", "1", "2", "3", "7", "255", "256", "65535", "65536", "2147483647", "2147483648",
            "-2147483648", "4294967296", "9223372036854775807", "9223372036854775808", "1e308", "1e309", "-1e309", "0.5", "1e-300", "100000000"};

    @TempDir
    Path dir;

    /** What one kind of input is fed to: returns normally when accepted, throws when refused. */
    @FunctionalInterface
    interface Reader {
        void read(Path file) throws Exception;
    }

    /** Mutates {@code seed} {@code count} times and feeds each to the reader; returns how many were accepted. */
    private int fuzz(String kind, byte[] seed, int count, long rngSeed, Reader reader, Mutator mutator) throws IOException {
        Random rng = new Random(rngSeed);
        Path file = dir.resolve(kind);
        List<String> failures = new ArrayList<>();
        int accepted = 0;
        for (int i = 0; i < count && failures.size() < 5; i++) {
            long inputSeed = rng.nextLong();
            byte[] input = mutator.mutate(seed, new Random(inputSeed));
            Files.write(file, input);
            long start = System.nanoTime();
            try {
                reader.read(file);
                accepted++;
            } catch (FileFormatException e) {
                if (e.getMessage().matches("(?s).*\\[[IJDFL][a-zA-Z.;]*@[0-9a-f]+.*")) failures.add(kind + " input seed " + inputSeed + ": message shows an object: " + e.getMessage());
            } catch (Throwable t) {
                String where = Arrays.stream(t.getStackTrace()).limit(6).map(StackTraceElement::toString).reduce((a, b) -> a + " < " + b).orElse("");
                failures.add(kind + " input seed " + inputSeed + ": " + t + " at " + where);
                if (t instanceof VirtualMachineError) break;
            }
            double seconds = (System.nanoTime() - start) * 1e-9;
            if (seconds > SECONDS_PER_INPUT) failures.add(kind + " input seed " + inputSeed + " took " + seconds + " s");
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        return accepted;
    }

    /** Turns a seed file into a hostile variant. */
    @FunctionalInterface
    interface Mutator {
        byte[] mutate(byte[] seed, Random rng);
    }

    /** One to four blind byte-level edits: overwrite, set to an edge value, insert, delete, duplicate, truncate. */
    static byte[] bytes(byte[] seed, Random rng) {
        byte[] b = seed.clone();
        for (int edits = 1 + rng.nextInt(4); edits > 0 && b.length > 0; edits--) {
            int at = rng.nextInt(b.length);
            switch (rng.nextInt(6)) {
                case 0 -> b[at] = (byte) rng.nextInt(256);
                case 1 -> b[at] = (byte) new int[] {0, 0xFF, 0x7F, 0x80, 0x01}[rng.nextInt(5)];
                case 2 -> {
                    byte[] c = new byte[b.length + 1 + rng.nextInt(8)];
                    System.arraycopy(b, 0, c, 0, at);
                    for (int i = at; i < at + c.length - b.length; i++) c[i] = (byte) rng.nextInt(256);
                    System.arraycopy(b, at, c, at + c.length - b.length, b.length - at);
                    b = c;
                }
                case 3 -> {
                    int n = Math.min(b.length - at, 1 + rng.nextInt(16));
                    byte[] c = new byte[b.length - n];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, at + n, c, at, b.length - at - n);
                    b = c;
                }
                case 4 -> {
                    int n = Math.min(b.length - at, 1 + rng.nextInt(64));
                    byte[] c = Arrays.copyOf(b, b.length + n);
                    System.arraycopy(b, at, c, at + n, b.length - at);
                    b = c;
                }
                default -> b = Arrays.copyOf(b, at);
            }
        }
        return b;
    }

    private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?");

    /**
     * Safetensors files mutated where it matters: in the JSON header (and the JSON inside its
     * metadata), numbers replaced by edge values, with the header length kept right so that the
     * file reaches the checks behind it; else blind byte edits.
     */
    static byte[] safetensors(byte[] seed, Random rng) {
        if (rng.nextInt(3) == 0) return bytes(seed, rng);
        long length = ByteBuffer.wrap(seed, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(seed, 8, (int) length, StandardCharsets.UTF_8);
        for (int edits = 1 + rng.nextInt(3); edits > 0; edits--) {
            List<int[]> numbers = new ArrayList<>();
            Matcher m = NUMBER.matcher(header);
            while (m.find()) numbers.add(new int[] {m.start(), m.end()});
            int[] n = numbers.get(rng.nextInt(numbers.size()));
            String by = rng.nextInt(4) == 0 ? "" : NUMBERS[rng.nextInt(NUMBERS.length)];
            header = header.substring(0, n[0]) + by + header.substring(n[1]);
        }
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + json.length + seed.length - 8 - (int) length).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json)
                .put(seed, 8 + (int) length, seed.length - 8 - (int) length).array();
    }

    /** A small model with most layer kinds, as saved. */
    private static Graph smallModel() {
        return Sequential.builder().input(2, 12, 12)
                .add("conv", new Conv2d(2, 3, 3).padding(1)).add("relu", new ReLU()).add("pool", new MaxPool2d(2))
                .add("sub", new Subsampling(2)).add("tanh", new Tanh()).add("avg", new AvgPool2d(3).stride(1).padding(1))
                .add("flat", new Flatten()).add("drop", new Dropout(0.1)).add("fc", new Dense(27, 4))
                .loss(new SoftmaxCrossEntropy()).seed(3).build(Backends.CPU);
    }

    private static final DataInfo INFO = new DataInfo("fuzz", List.of("a", "b", "c", "d"),
            new Normalization(new double[] {0.5, 0.4}, new double[] {0.2, 0.3}));

    /** A model file as {@code predict} uses it: loaded, then one forward pass. */
    private static void loadAndRun(Path file) throws IOException {
        try (Model m = ModelFile.load(file, Backends.CPU).model()) {
            Tensor x = Backends.CPU.upload(m.inputShape().batch(2), new double[2 * m.inputShape().size()]);
            assertEquals(2 * m.outputShape().size(), m.forward(x, org.cnn4j.layer.Pass.INFERENCE).size());
            x.close();
        }
    }

    @Test
    void modelFilesAndCheckpoints() throws IOException {
        Path model = dir.resolve("seed-model"), checkpoint = dir.resolve("seed-checkpoint");
        try (Graph m = smallModel()) {
            ModelFile.save(model, m, INFO);
        }
        int accepted = fuzz("model", Files.readAllBytes(model), 2000, 1, FuzzTest::loadAndRun, FuzzTest::safetensors);
        assertTrue(accepted > 0 && accepted < 2000, "some mutations load (" + accepted + "), most do not");

        try (Graph m = org.cnn4j.model.Models.fmnistCnn().seed(1).build(Backends.CPU)) {
            new Trainer(m, new Adam(1e-3), Trainer.Options.of(1, 16)).checkpointTo(checkpoint).fit(SyntheticShapes.generate(16, 28, 10, 1), null);
        }
        byte[] seed = Files.readAllBytes(checkpoint);
        fuzz("checkpoint", seed, 300, 2, f -> Trainer.resume(f, Backends.CPU).model().close(), FuzzTest::safetensors);
    }

    private static final long[] EDGES = {0, -1, 1, 2, 3, 7, 65535, 65536, Integer.MAX_VALUE, 1L << 31, Integer.MIN_VALUE, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE};
    private static final String[] OPERATORS = {"Conv", "Gemm", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape",
        "Add", "Concat", "Identity", "Softmax", "LogSoftmax", "BatchNormalization", "Pad", "Constant", "Mul", "Sigmoid"};

    /**
     * ONNX files mutated where it matters: an attribute's integer, an initializer's or the input's
     * dimension set to an edge value, an initializer or int64 constant moved to external data at an
     * edge offset, a node's input renamed, a node removed, an operator swapped; one to three such edits
     * to the parsed model, or else blind byte edits.
     */
    static byte[] onnx(byte[] seed, Random rng) {
        if (rng.nextInt(4) == 0) return bytes(seed, rng);
        ai.onnx.proto.OnnxMl.ModelProto.Builder m;
        try {
            m = ai.onnx.proto.OnnxMl.ModelProto.parseFrom(seed).toBuilder();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
        ai.onnx.proto.OnnxMl.GraphProto.Builder g = m.getGraphBuilder();
        for (int edits = 1 + rng.nextInt(3); edits > 0 && g.getNodeCount() > 0; edits--) {
            ai.onnx.proto.OnnxMl.NodeProto.Builder n = g.getNodeBuilder(rng.nextInt(g.getNodeCount()));
            long edge = EDGES[rng.nextInt(EDGES.length)];
            switch (rng.nextInt(7)) {
                case 0 -> {
                    if (n.getAttributeCount() == 0) continue;
                    ai.onnx.proto.OnnxMl.AttributeProto.Builder a = n.getAttributeBuilder(rng.nextInt(n.getAttributeCount()));
                    if (a.getIntsCount() > 0) a.setInts(rng.nextInt(a.getIntsCount()), edge);
                    else a.setI(edge);
                }
                case 1 -> {
                    if (g.getInitializerCount() == 0) continue;
                    ai.onnx.proto.OnnxMl.TensorProto.Builder t = g.getInitializerBuilder(rng.nextInt(g.getInitializerCount()));
                    if (t.getDimsCount() > 0) t.setDims(rng.nextInt(t.getDimsCount()), edge);
                }
                case 2 -> {
                    if (g.getInitializerCount() == 0) continue;
                    ai.onnx.proto.OnnxMl.TensorProto.Builder t = g.getInitializerBuilder(rng.nextInt(g.getInitializerCount()));
                    t.clearRawData().setDataLocation(ai.onnx.proto.OnnxMl.TensorProto.DataLocation.EXTERNAL)
                            .addExternalData(ai.onnx.proto.OnnxMl.StringStringEntryProto.newBuilder().setKey("location").setValue(rng.nextBoolean() ? "onnx" : "../onnx"))
                            .addExternalData(ai.onnx.proto.OnnxMl.StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(edge)));
                }
                case 3 -> {
                    if (n.getInputCount() == 0) continue;
                    String other = g.getNode(rng.nextInt(g.getNodeCount())).getOutput(0);
                    n.setInput(rng.nextInt(n.getInputCount()), rng.nextBoolean() ? other : "nowhere");
                }
                case 4 -> g.removeNode(rng.nextInt(g.getNodeCount()));
                case 5 -> n.setOpType(OPERATORS[rng.nextInt(OPERATORS.length)]);
                default -> {
                    var shape = g.getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder();
                    shape.getDimBuilder(rng.nextInt(shape.getDimCount())).setDimValue(edge);
                }
            }
        }
        return m.build().toByteArray();
    }

    /**
     * An ONNX file as {@code predict} uses it: read, then one forward pass where the input is the
     * seed's (a fully convolutional model of a larger input is valid; the memory its activations need
     * is the caller's to check, as the command line does before it runs one).
     */
    private static Reader importAndRun(Shape input) {
        return file -> {
            try (Model m = org.cnn4j.onnx.OnnxImport.read(file, Backends.CPU).model()) {
                if (!m.inputShape().equals(input)) return;
                Tensor x = Backends.CPU.upload(m.inputShape().batch(2), new double[2 * m.inputShape().size()]);
                assertEquals(2 * m.outputShape().size(), m.forward(x, org.cnn4j.layer.Pass.INFERENCE).size());
                x.close();
            }
        };
    }

    @Test
    void onnxFiles() throws IOException {
        byte[] seed;
        try (Graph m = smallModel()) {
            seed = org.cnn4j.onnx.OnnxExport.toOnnx(m, INFO).toByteArray();
        }
        int accepted = fuzz("onnx", seed, 2000, 9, importAndRun(Shape.of(2, 12, 12)), FuzzTest::onnx);
        assertTrue(accepted > 0 && accepted < 2000, "some mutations load (" + accepted + "), most do not");
        try (Graph m = org.cnn4j.model.Models.resnet20(3, 8, 8, 3).seed(2).build(Backends.CPU)) {
            seed = org.cnn4j.onnx.OnnxExport.toOnnx(m, null).toByteArray();
        }
        fuzz("onnx-resnet", seed, 500, 10, importAndRun(Shape.of(3, 8, 8)), FuzzTest::onnx);
    }

    private static byte[] idx(int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length).putInt(0x0800 | dims.length);
        for (int d : dims) b.putInt(d);
        return b.put(data).array();
    }

    private static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        }
        return out.toByteArray();
    }

    @Test
    void idxDatasets() throws IOException {
        Path d = Files.createDirectories(dir.resolve("idx"));
        Random rng = new Random(5);
        byte[] pixels = new byte[6 * 7 * 5], labels = new byte[6];
        rng.nextBytes(pixels);
        for (int i = 0; i < labels.length; i++) labels[i] = (byte) rng.nextInt(10);
        byte[] images = idx(new int[] {6, 7, 5}, pixels), labelFile = idx(new int[] {6}, labels);
        Files.write(d.resolve("t10k-images-idx3-ubyte"), images);
        Files.write(d.resolve("t10k-labels-idx1-ubyte"), labelFile);
        Files.write(d.resolve("train-labels-idx1-ubyte"), labelFile);
        Path mutated = d.resolve("train-images-idx3-ubyte"), gz = d.resolve("train-images-idx3-ubyte.gz");
        Reader dataset = f -> {
            Files.move(f, mutated, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Datasets.idx(d);
        };
        fuzz("idx-raw", images, 600, 6, dataset, FuzzTest::bytes);
        Files.delete(mutated);
        Reader gzipped = f -> {
            Files.move(f, gz, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Datasets.idx(d);
        };
        fuzz("idx-gz", gzip(images), 600, 7, gzipped, FuzzTest::bytes);
        Files.delete(gz);
        Files.write(mutated, images);
        Path labelsFile = d.resolve("train-labels-idx1-ubyte");
        fuzz("idx-labels", labelFile, 300, 8, f -> {
            Files.move(f, labelsFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Datasets.idx(d);
        }, FuzzTest::bytes);
    }

    private static byte[] image(String format, int type) throws IOException {
        BufferedImage image = new BufferedImage(20, 14, type);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.CYAN);
        g.fillRect(3, 2, 9, 7);
        g.setColor(Color.RED);
        g.drawLine(0, 13, 19, 0);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(image, format, out), format);
        return out.toByteArray();
    }

    @Test
    void images() throws IOException {
        DataInfo grey = new DataInfo("t", List.of("a", "b"), Normalization.identity(1)), rgb = new DataInfo("t", List.of("a", "b"), Normalization.identity(3));
        Reader asGrey = f -> Images.load(List.of(f), Shape.of(1, 28, 28), false, grey);
        Reader asRgb = f -> Images.load(List.of(f), Shape.of(3, 16, 16), true, rgb);
        long seed = 20;
        for (String format : List.of("png", "jpg", "bmp", "gif")) {
            int type = format.equals("gif") ? BufferedImage.TYPE_BYTE_INDEXED : BufferedImage.TYPE_INT_RGB;
            byte[] original = image(format, type);
            fuzz(format + "-grey", original, 250, seed++, asGrey, FuzzTest::bytes);
            fuzz(format + "-rgb", original, 150, seed++, asRgb, FuzzTest::bytes);
        }
        byte[] jpeg = image("jpg", BufferedImage.TYPE_INT_RGB);
        fuzz("jpeg-size", jpeg, 200, seed, asRgb, (s, rng) -> HostileInputTest.claiming(s, 1 + rng.nextInt(65535), 1 + rng.nextInt(65535)));
    }
}
