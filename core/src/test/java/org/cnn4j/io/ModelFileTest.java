package org.cnn4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.data.Preprocessing;
import org.cnn4j.data.ResizedCrop;
import org.cnn4j.layer.ActivationLayer;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.FeatureMapCombination;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.GELU;
import org.cnn4j.layer.Init;
import org.cnn4j.layer.LayerConfig;
import org.cnn4j.layer.LeakyReLU;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Pass;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.ScaledTanh;
import org.cnn4j.layer.SiLU;
import org.cnn4j.layer.Sigmoid;
import org.cnn4j.layer.Softmax;
import org.cnn4j.layer.Subsampling;
import org.cnn4j.layer.Tanh;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.loss.SquaredError;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model files: every layer kind survives a round trip, bad files are refused, saves are atomic. */
class ModelFileTest {
    @TempDir
    Path dir;

    static final DataInfo INFO = new DataInfo("test", List.of("a", "b", "c", "d", "e"), new Normalization(new double[] {0.5, 0.25}, new double[] {0.2, 0.3}));

    /** A data description that fits a model: a class per output, a mean and std per input channel. */
    static DataInfo infoFor(Model model) {
        int channels = model.inputShape().dim(0);
        double[] mean = new double[channels], std = new double[channels];
        java.util.Arrays.fill(mean, 0.5);
        java.util.Arrays.fill(std, 0.25);
        List<String> classes = java.util.stream.IntStream.range(0, model.outputShape().size()).mapToObj(i -> "class " + i).toList();
        return new DataInfo("test", classes, new Normalization(mean, std));
    }

    /** A model with every layer kind and non-default settings. */
    static Graph everyLayer() {
        return Sequential.builder().input(2, 12, 12)
                .add(new Conv2d(2, 4, 3).padding(1).init(Init.HE_NORMAL)).add(new ReLU())
                .add(new FeatureMapCombination(4, 4, 3).padding(1).penalty(CombinationPenalty.ENTROPY, 0.01)).add(new Tanh())
                .add(new Subsampling(2)).add(new Sigmoid())
                .add(new MaxPool2d(3).stride(1).padding(1)).add(new AvgPool2d(2)).add(new ScaledTanh())
                .add(new ActivationLayer(Activation.IDENTITY)).add(new LeakyReLU(0.2)).add(new SiLU()).add(new GELU())
                .add(new ActivationLayer(Activation.leakyRelu(-0.5))).add(new Flatten()).add(new Dropout(0.2))
                .add("head", new Dense(36, 5).bias(false).learningRateMultiplier(2).weightDecayMultiplier(0)).add(new Softmax())
                .loss(new SquaredError(0.9, 0.1)).seed(11).build(Backends.CPU);
    }

    private static void assertSameModel(Model a, Model b) {
        assertEquals(Json.write(ModelFile.architecture(a)), Json.write(ModelFile.architecture(b)));
        for (int i = 0; i < a.parameters().size(); i++) {
            assertArrayEquals(a.parameters().get(i).value().toFloatArray(), b.parameters().get(i).value().toFloatArray());
            assertEquals(a.parameters().get(i).learningRateMultiplier(), b.parameters().get(i).learningRateMultiplier());
            assertEquals(a.parameters().get(i).weightDecayMultiplier(), b.parameters().get(i).weightDecayMultiplier());
        }
        Tensor x = Backends.CPU.upload(a.inputShape().batch(3), Data.uniform(new Random(2), a.inputShape().size() * 3));
        assertArrayEquals(a.forward(x, Pass.INFERENCE).toFloatArray(), b.forward(x, Pass.INFERENCE).toFloatArray());
    }

    @Test
    void everyLayerKindRoundTrips() throws IOException {
        Path f = dir.resolve("every.safetensors");
        Graph model = everyLayer();
        ModelFile.save(f, model, INFO);
        ModelFile.Loaded loaded = ModelFile.load(f, Backends.CPU);
        assertSameModel(model, loaded.model());
        assertEquals(INFO, loaded.data());
        assertTrue(loaded.otherTensors().isEmpty());
    }

    @Test
    void builtInModelsRoundTrip() throws IOException {
        for (String name : Models.NAMES) {
            Path f = dir.resolve(name + ".safetensors");
            Graph model = Models.byName(name).seed(5).build(Backends.CPU);
            ModelFile.save(f, model, infoFor(model));
            assertSameModel(model, ModelFile.load(f, Backends.CPU).model());
        }
    }

    /**
     * The preprocessing (resize before the centre crop) and the augmentation training applied come
     * back from the file; a preprocessing for another input shape, or a resize smaller than the
     * crop, is refused with the file's name.
     */
    @Test
    void preprocessingAndAugmentationRoundTrip() throws IOException {
        Graph model = Sequential.builder().input(3, 6, 6).add(new Conv2d(3, 2, 3)).add(new Flatten()).add(new Dense(32, 2)).loss(new SoftmaxCrossEntropy()).seed(3).build(Backends.CPU);
        DataInfo info = new DataInfo("pictures", List.of("cat", "dog"), Normalization.identity(3))
                .with(new Preprocessing(org.cnn4j.tensor.Shape.of(3, 6, 6), 9), Map.of("randomResizedCrop", ResizedCrop.scale(0.3).config(), "horizontalFlip", true));
        Path f = dir.resolve("pictures.safetensors");
        ModelFile.save(f, model, info);
        DataInfo back = ModelFile.load(f, Backends.CPU).data();
        assertEquals(info.preprocessing(), back.preprocessing());
        assertEquals(ResizedCrop.scale(0.3), ResizedCrop.fromConfig(org.cnn4j.io.Settings.of("crop", back.augmentation().get("randomResizedCrop"))));
        assertEquals(true, back.augmentation().get("horizontalFlip"));
        for (String[] edit : new String[][] {{"[3,6,6]", "[3,7,7]", "prepares images as (3, 7, 7) but the model's input is (3, 6, 6)"},
                {"\"resize\":9", "\"resize\":5", "bad model description: the shorter side is resized to between max(h, w) = 6"}}) {
            Safetensors.Contents c = Safetensors.read(f);
            Map<String, String> m = new LinkedHashMap<>(c.metadata());
            String data = m.get(ModelFile.DATA_KEY);
            assertTrue(data.contains(edit[0]), data);
            m.put(ModelFile.DATA_KEY, data.replace(edit[0], edit[1]));
            Path g = dir.resolve("edited.safetensors");
            AtomicFiles.write(g, out -> Safetensors.write(out, m, c.tensors()));
            String message = failure(g);
            assertTrue(message.contains(edit[2]) && message.contains("edited.safetensors"), message);
        }
    }

    /** A layer kind of a user's own: a class outside the library, registered once. */
    public static final class Swish extends ActivationLayer {
        static {
            LayerConfig.register("Swish", s -> new Swish());
        }

        public Swish() {
            super(Activation.SILU);
        }
    }

    @Test
    void aRegisteredLayerKindOfOnesOwnRoundTripsAndCopies() throws IOException {
        Graph model = Sequential.builder().input(2, 4, 4).add(new Conv2d(2, 3, 3)).add(new Swish()).add(new Flatten()).add(new Dense(12, 3))
                .loss(new SoftmaxCrossEntropy()).seed(3).build(Backends.CPU);
        assertTrue(LayerConfig.types().contains("Swish"), LayerConfig.types().toString());
        Path f = dir.resolve("swish.safetensors");
        ModelFile.save(f, model, infoFor(model));
        assertSameModel(model, ModelFile.load(f, Backends.CPU).model());
        assertInstanceOf(Swish.class, model.copyTo(Backends.CPU).layers().get(1));
        String m = assertThrows(IllegalArgumentException.class, () -> LayerConfig.register("Swish", s -> new Swish())).getMessage();
        assertTrue(m.contains("'Swish' is already registered"), m);
    }

    private String failure(Path f) {
        return assertThrows(FileFormatException.class, () -> ModelFile.load(f, Backends.CPU)).getMessage();
    }

    /** The file of a saved model with its metadata and tensors changed. */
    private Path edited(String name, java.util.function.Consumer<Map<String, String>> metadata,
                        java.util.function.Consumer<Map<String, Safetensors.Entry>> tensors) throws IOException {
        Path f = dir.resolve(name);
        Graph lenet5 = Models.lenet5().build(Backends.CPU);
        ModelFile.save(f, lenet5, infoFor(lenet5));
        Safetensors.Contents c = Safetensors.read(f);
        Map<String, String> m = new LinkedHashMap<>(c.metadata());
        Map<String, Safetensors.Entry> t = new LinkedHashMap<>(c.tensors());
        metadata.accept(m);
        tensors.accept(t);
        AtomicFiles.write(f, out -> Safetensors.write(out, m, t));
        return f;
    }

    @Test
    void refusesFilesThatDoNotDescribeTheirModel() throws IOException {
        String m = failure(edited("a", md -> md.remove(ModelFile.FORMAT_KEY), t -> { }));
        assertTrue(m.contains("not a cnn4j model file"), m);
        m = failure(edited("b", md -> md.put(ModelFile.ARCHITECTURE_KEY, md.get(ModelFile.ARCHITECTURE_KEY).replace("\"Conv2d\"", "\"Conv9d\"")), t -> { }));
        assertTrue(m.contains("layer 0 ('c1'): unknown layer type 'Conv9d'"), m);
        m = failure(edited("c", md -> md.put(ModelFile.ARCHITECTURE_KEY, md.get(ModelFile.ARCHITECTURE_KEY).replace("\"block\":2", "\"block\":\"two\"")), t -> { }));
        assertTrue(m.contains("Subsampling layer: setting 'block' must be an integer, got two"), m);
        m = failure(edited("d", md -> { }, t -> t.remove("c3.weight")));
        assertTrue(m.contains("parameter 'c3.weight' (16, 6, 5, 5) of the architecture has no tensor in the file"), m);
        m = failure(edited("e", md -> { }, t -> t.put("c1.bias", new Safetensors.Entry(new int[] {7}, new float[7]))));
        assertTrue(m.contains("tensor 'c1.bias' has shape [7] but the architecture needs (6)"), m);
        m = failure(edited("f", md -> md.put(ModelFile.ARCHITECTURE_KEY, "{\"input\": [1, 28, 28], \"seed\": 0, \"layers\": "), t -> { }));
        assertTrue(m.contains("bad model description: not valid JSON"), m);
    }

    @Test
    void refusesAModelFileWhoseHeaderClaimsOffsetsBeyondItsEnd() throws IOException {
        Path f = dir.resolve("model.safetensors");
        Graph model = Models.fmnistCnn().build(Backends.CPU);
        ModelFile.save(f, model, infoFor(model));
        byte[] bytes = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        String m = failure(f);
        assertTrue(m.contains("claims bytes") && m.contains("but the data section holds only"), m);
    }

    @Test
    void aFailedSaveLeavesThePreviousFileIntactAndNoTemporaryFile() throws IOException {
        Path f = dir.resolve("model.safetensors");
        Graph model = Models.lenet5().seed(1).build(Backends.CPU);
        ModelFile.save(f, model, infoFor(model));
        byte[] before = Files.readAllBytes(f);
        // Simulated crash: the writer dies half-way through the new file.
        IOException crash = assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> {
            out.write(before, 0, before.length / 2);
            throw new IOException("disk full (simulated)");
        }));
        assertEquals("cannot write " + f + ": disk full (simulated) (the previous file is unchanged)", crash.getMessage());
        Path fresh = dir.resolve("fresh.safetensors");
        IOException full = assertThrows(IOException.class, () -> AtomicFiles.write(fresh, out -> {
            throw new IOException("No space left on device");
        }));
        assertEquals("cannot write " + fresh + ": No space left on device (nothing was written)", full.getMessage());
        FileFormatException refused = new FileFormatException(fresh, "a writer's own error");
        assertSame(refused, assertThrows(FileFormatException.class, () -> AtomicFiles.write(fresh, out -> {
            throw refused;
        })), "an error that names its file already passes unchanged");
        assertArrayEquals(before, Files.readAllBytes(f));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList(), "no temporary file left behind");
        }
        assertSameModel(model, ModelFile.load(f, Backends.CPU).model());
    }

    /** Saves a model over and over until killed (the child process of the test below). */
    public static void main(String[] args) throws IOException {
        Path f = Path.of(args[0]);
        Graph model = Models.vggSmall().seed(3).build(new org.cnn4j.backend.cpu.CpuBackend(1));
        for (int i = 0; ; i++) {
            ModelFile.save(f, model, infoFor(model));
            Files.writeString(f.resolveSibling("saves"), Integer.toString(i + 1), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aProcessKilledWhileSavingLeavesALoadableModel() throws Exception {
        Path f = dir.resolve("vgg.safetensors"), saves = dir.resolve("saves");
        String java = ProcessHandle.current().info().command().orElse("java");
        Random rng = new Random(7);
        for (int round = 0; round < 3; round++) {
            Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), ModelFileTest.class.getName(), f.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (!Files.exists(saves) && System.nanoTime() < deadline && child.isAlive()) Thread.sleep(10);
                assertTrue(Files.exists(saves), "the child saved at least once");
                Thread.sleep(rng.nextInt(150)); // then dies at an arbitrary point of a save
            } finally {
                child.destroyForcibly().waitFor();
            }
            Files.delete(saves);
            ModelFile.Loaded loaded = ModelFile.load(f, Backends.CPU);
            assertEquals(List.of("conv1_1.weight", "conv1_1.bias"), loaded.model().parameters().subList(0, 2).stream().map(p -> p.name()).toList());
            loaded.model().close();
        }
        // Whatever the kills left behind, the next save clears it.
        try (Graph model = Models.lenet5().build(Backends.CPU)) {
            ModelFile.save(dir.resolve("next.safetensors"), model, infoFor(model));
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.filter(p -> p.toString().endsWith(".partial")).toList());
        }
    }

    @Test
    void aSaveRemovesTheTemporaryFilesOfWritesThatDied() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long live = ProcessHandle.current().pid();
        Path dead = Files.writeString(dir.resolve(".model.safetensors.pid" + gone.pid() + ".123.partial"), "half a model");
        Path ours = Files.writeString(dir.resolve(".model.safetensors.pid" + live + ".456.partial"), "being written");
        Path oldStale = Files.writeString(dir.resolve(".checkpoint.safetensors.789.partial"), "from an older cnn4j");
        Path oldRecent = Files.writeString(dir.resolve(".other.safetensors.790.partial"), "maybe still being written");
        Path foreign = Files.writeString(dir.resolve("notes.partial"), "not ours");
        Files.setLastModifiedTime(oldStale, java.nio.file.attribute.FileTime.from(java.time.Instant.now().minus(java.time.Duration.ofHours(2))));
        try (Graph model = Models.lenet5().build(Backends.CPU)) {
            ModelFile.save(dir.resolve("model.safetensors"), model, infoFor(model));
        }
        assertTrue(!Files.exists(dead) && !Files.exists(oldStale), "the files of dead writes are gone");
        assertTrue(Files.exists(ours) && Files.exists(oldRecent) && Files.exists(foreign), "a live write's file and files not ours stay");
    }
}
