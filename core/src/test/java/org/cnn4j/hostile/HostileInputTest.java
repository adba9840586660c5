package org.cnn4j.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

import javax.imageio.ImageIO;

import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Datasets;
import org.cnn4j.data.Images;
import org.cnn4j.data.Normalization;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.io.AtomicFiles;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.io.Json;
import org.cnn4j.io.ModelFile;
import org.cnn4j.io.Safetensors;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.cnn4j.train.Trainer;
import org.cnn4j.train.TrainingDivergedException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files, images and options as a hostile user would write them, each refused before it costs
 * memory, time or a wrong model, with a message that names the problem. Runs in a JVM of 256 MiB
 * (tag small-heap): an allocation sized by an unchecked number would fail these tests rather
 * than pass on a large machine.
 */
@Tag("small-heap")
class HostileInputTest {
    @TempDir
    Path dir;

    private static final List<String> TEN = IntStream.range(0, 10).mapToObj(i -> "c" + i).toList();

    // ---------------------------------------------------------------- model files

    /** A small model's architecture as plain values, to be bent by a test: conv (1→4, 3×3) on 1×8×8, flatten, dense 144→10. */
    private static Map<String, Object> smallArchitecture(Map<String, Safetensors.Entry> tensors) {
        try (Graph m = Sequential.builder().input(1, 8, 8).add("conv", new Conv2d(1, 4, 3)).add("relu", new ReLU())
                .add("flat", new Flatten()).add("fc", new Dense(144, 10)).loss(new SoftmaxCrossEntropy()).build(Backends.CPU)) {
            m.parameters().forEach(p -> tensors.put(p.name(), ModelFile.entry(p.value())));
            return ModelFile.architecture(m);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> layer(Map<String, Object> architecture, int i) {
        return (Map<String, Object>) ((List<Object>) architecture.get("layers")).get(i);
    }

    /** A model file written by hand: its architecture, class names, one-channel normalisation and tensors. */
    private Path modelFile(String name, Map<String, Object> architecture, List<String> classes, Map<String, Safetensors.Entry> tensors)
            throws IOException {
        Path f = dir.resolve(name);
        DataInfo info = new DataInfo("test", classes, new Normalization(new double[] {0.5}, new double[] {0.25}));
        Map<String, String> metadata = Map.of(ModelFile.FORMAT_KEY, ModelFile.FORMAT, ModelFile.ARCHITECTURE_KEY, Json.write(architecture),
                ModelFile.DATA_KEY, Json.write(info.config()));
        AtomicFiles.write(f, out -> Safetensors.write(out, metadata, tensors));
        return f;
    }

    private static String refusal(Path model) {
        FileFormatException e = assertThrows(FileFormatException.class, () -> ModelFile.load(model, Backends.CPU).model().close());
        assertTrue(e.getMessage().startsWith(model.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void theArchitectureIsCheckedAgainstTheTensorsBeforeAnythingIsBuilt() throws IOException {
        Map<String, Safetensors.Entry> tensors = new LinkedHashMap<>();
        Map<String, Object> fine = smallArchitecture(tensors);
        assertEquals(4, ModelFile.load(modelFile("fine", fine, TEN, tensors), Backends.CPU).model().parameters().size());

        // 2^27 output maps of a 1×1 convolution: 134M values a sample, and a 1.2 GB weight the file does not hold.
        Map<String, Object> wide = smallArchitecture(new LinkedHashMap<>());
        wide.put("input", new int[] {1, 1, 1});
        layer(wide, 0).put("out", 1 << 27);
        layer(wide, 0).put("kernel", new int[] {1, 1});
        layer(wide, 3).put("in", 1 << 27);
        Path f = modelFile("wide", wide, TEN, tensors);
        assertTrue(Files.size(f) < 8192, "a file of " + Files.size(f) + " bytes");
        String m = refusal(f);
        assertTrue(m.contains("layer 'conv' holds 134217728 values per sample (134217728, 1, 1), more than cnn4j's limit of 67108864"), m);

        // A dense layer of 16384×16384 (2 GB of doubles to initialise) in a file without its weights.
        Map<String, Object> dense = smallArchitecture(new LinkedHashMap<>());
        dense.put("input", new int[] {1, 128, 128});
        dense.put("layers", List.of(Map.of("name", "flat", "type", "Flatten"), Map.of("name", "big", "type", "Dense", "in", 16384, "out", 16384, "bias", true, "init", "DEFAULT"),
                Map.of("name", "fc", "type", "Dense", "in", 16384, "out", 10, "bias", false, "init", "DEFAULT")));
        m = refusal(modelFile("dense", dense, TEN, Map.of()));
        assertTrue(m.contains("parameter 'big.weight' (16384, 16384) of the architecture has no tensor in the file"), m);

        // An input of 20000×20000 and layers without parameters: nothing to compare, but the size is refused.
        Map<String, Object> vast = smallArchitecture(new LinkedHashMap<>());
        vast.put("input", new int[] {1, 20000, 20000});
        vast.put("layers", List.of(Map.of("name", "relu", "type", "ReLU")));
        m = refusal(modelFile("vast", vast, TEN, Map.of()));
        assertTrue(m.contains("the input holds 400000000 values per sample"), m);

        // Padding of a billion: output sizes beyond 32 bits.
        Map<String, Object> padded = smallArchitecture(new LinkedHashMap<>());
        layer(padded, 0).put("padding", new int[] {1_000_000_000, 1_000_000_000});
        m = refusal(modelFile("padded", padded, TEN, tensors));
        assertTrue(m.contains("bad model description: layer 'conv' (Conv2d 1→4 3×3"), m);
    }

    @Test
    void classNamesOutputsAndChannelsMustAgree() throws IOException {
        Map<String, Safetensors.Entry> tensors = new LinkedHashMap<>();
        Map<String, Object> architecture = smallArchitecture(tensors);
        String m = refusal(modelFile("three", architecture, List.of("a", "b", "c"), tensors));
        assertTrue(m.contains("the data description names 3 classes but the model has 10 outputs (10)"), m);

        Map<String, Object> empty = smallArchitecture(new LinkedHashMap<>());
        empty.put("layers", List.of());
        m = refusal(modelFile("empty", empty, TEN, Map.of()));
        assertTrue(m.contains("the architecture has no layers"), m);

        Map<String, Object> rgb = smallArchitecture(new LinkedHashMap<>());
        rgb.put("input", new int[] {3, 8, 8});
        layer(rgb, 0).put("in", 3);
        Map<String, Safetensors.Entry> rgbTensors = new LinkedHashMap<>(tensors);
        rgbTensors.put("conv.weight", new Safetensors.Entry(new int[] {4, 3, 3, 3}, new float[108]));
        m = refusal(modelFile("rgb", rgb, TEN, rgbTensors));
        assertTrue(m.contains("the data description normalises 1 channels but the model's input (3, 8, 8) has 3"), m);

        // Saving such a model is refused too, so that no file is written that cannot be loaded.
        try (Graph model = Models.fmnistCnn().build(Backends.CPU)) {
            DataInfo three = new DataInfo("test", List.of("a", "b", "c"), Normalization.identity(1));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelFile.save(dir.resolve("no"), model, three));
            assertTrue(e.getMessage().contains("names 3 classes but the model has 10 outputs"), e.getMessage());
            assertFalse(Files.exists(dir.resolve("no")));
        }
    }

    // ---------------------------------------------------------------- datasets

    /** A gzip bomb: an IDX file of 1.2 GiB of zeros (1200 images of 1024×1024), a megabyte or two compressed. */
    private static void gzipBomb(Path file) throws IOException {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file), 1 << 16) {
            {
                def.setLevel(Deflater.BEST_SPEED);
            }
        }) {
            out.write(Data.idxHeader(1200, 1024, 1024));
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 1200; i++) out.write(zeros);
        }
    }

    @Test
    void aGzipBombIsRefusedFromItsHeader() throws IOException {
        Path d = Files.createDirectories(dir.resolve("bomb"));
        gzipBomb(d.resolve("train-images-idx3-ubyte.gz"));
        Files.write(d.resolve("train-labels-idx1-ubyte"), ByteBuffer.allocate(8 + 1200).put(Data.idxHeader(1200)).array());
        assertTrue(Files.size(d.resolve("train-images-idx3-ubyte.gz")) < 32 << 20);
        String m = assertThrows(FileFormatException.class, () -> Datasets.idx(d)).getMessage();
        assertTrue(m.contains("train-images-idx3-ubyte.gz (at byte 4): the header's dimensions 1200×1024×1024 claim 1258291200 bytes of data, "
                + "more than the limit of 1073741824 bytes"), m);
    }

    // ---------------------------------------------------------------- images

    /** A JPEG whose frame header (SOF0) claims another size than its data hold. */
    static byte[] claiming(byte[] jpeg, int w, int h) {
        byte[] b = jpeg.clone();
        for (int i = 2; i + 8 < b.length; i++) {
            if ((b[i] & 0xFF) == 0xFF && (b[i + 1] & 0xFF) == 0xC0) {
                b[i + 5] = (byte) (h >> 8);
                b[i + 6] = (byte) h;
                b[i + 7] = (byte) (w >> 8);
                b[i + 8] = (byte) w;
                return b;
            }
        }
        throw new AssertionError("no SOF0 marker");
    }

    private String imageRefusal(String name, byte[] bytes) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, bytes);
        FileFormatException e = assertThrows(FileFormatException.class,
                () -> Images.load(List.of(f), Shape.of(1, 28, 28), false, new DataInfo("t", TEN, Normalization.identity(1))));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void imagesAreCheckedFromTheirHeaderAndRefusedWhenTruncated() throws IOException {
        byte[] small = Data.jpeg(64, 48);
        assertTrue(small.length < 2000);
        String m = imageRefusal("tall.jpg", claiming(small, 20000, 34464));
        assertTrue(m.contains("the header claims 20000×34464 = 689280000 pixels, more than the limit of 89478485"), m);
        m = imageRefusal("square.jpg", claiming(small, 20000, 20000));
        assertTrue(m.contains("20000×20000 = 400000000 pixels"), m);
        // Under the limit but far beyond its data (8000×8000 from 2 KB): decoded subsampled, so no 192 MB raster, and refused as truncated.
        m = imageRefusal("lying.jpg", claiming(small, 8000, 8000));
        assertTrue(m.contains("truncated or corrupt image"), m);
        m = imageRefusal("cut.jpg", Arrays.copyOf(small, small.length * 2 / 3));
        assertTrue(m.contains("truncated or corrupt image: "), m);
        // CMYK JPEGs are read without a colour profile, and that warning is no excuse for a cut one
        byte[] cmyk;
        try (java.io.InputStream in = getClass().getResourceAsStream("/images/cmyk.jpg")) {
            cmyk = in.readAllBytes();
        }
        m = imageRefusal("cut-cmyk.jpg", Arrays.copyOf(cmyk, cmyk.length * 2 / 3));
        assertTrue(m.contains("truncated or corrupt image: "), m);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(ImageIO.read(new java.io.ByteArrayInputStream(small)), "png", png);
        m = imageRefusal("cut.png", Arrays.copyOf(png.toByteArray(), png.size() / 2));
        assertTrue(m.contains("cannot decode the image"), m);
    }

    // ---------------------------------------------------------------- training

    @Test
    void divergenceIsCaughtEvenWhenNoStepLossShowsIt() throws IOException {
        var data = SyntheticShapes.generate(32, 28, 10, 3);
        for (boolean withTest : new boolean[] {false, true}) {
            Path checkpoint = dir.resolve("checkpoint-" + withTest);
            try (Graph model = Models.fmnistCnn().seed(1).build(Backends.CPU)) {
                // One step per epoch: its loss comes from the weights before the update that breaks them.
                // 1e300 overflows float32 in the update; 1e30 leaves finite weights whose activations overflow.
                Trainer trainer = new Trainer(model, new Sgd(withTest ? 1e30 : 1e300), Trainer.Options.of(1, 32)).checkpointTo(checkpoint);
                TrainingDivergedException e = assertThrows(TrainingDivergedException.class, () -> trainer.fit(data, withTest ? data : null));
                assertTrue(e.getMessage().startsWith(withTest ? "training diverged: the test loss is" : "training diverged: parameter '"), e.getMessage());
                assertTrue(e.getMessage().contains("after step 1 (the end of epoch 1"), e.getMessage());
                assertFalse(Files.exists(checkpoint), "no checkpoint of a diverged run");
            }
        }
    }

    @Test
    void aCheckpointWithABadScheduleIsRefusedByName() throws IOException {
        Path checkpoint = dir.resolve("checkpoint.safetensors");
        try (Graph model = Models.fmnistCnn().seed(1).build(Backends.CPU)) {
            new Trainer(model, new Sgd(0.01), Trainer.Options.of(1, 32)).checkpointTo(checkpoint).fit(SyntheticShapes.generate(32, 28, 10, 3), null);
        }
        Safetensors.Contents c = Safetensors.read(checkpoint);
        for (String schedule : List.of(":", "step:", "step:1:2:3", "cosine:5")) {
            Map<String, String> metadata = new LinkedHashMap<>(c.metadata());
            Map<String, Object> training = Json.readObject(metadata.get("cnn4j.training"));
            training.put("schedule", schedule);
            metadata.put("cnn4j.training", Json.write(training));
            AtomicFiles.write(checkpoint, out -> Safetensors.write(out, metadata, c.tensors()));
            String m = assertThrows(FileFormatException.class, () -> Trainer.resume(checkpoint, Backends.CPU)).getMessage();
            assertTrue(m.contains("bad checkpoint:") && m.contains("schedule '" + schedule + "'"), m);
        }
    }

    /** Every layer kind's file still loads: the checks refuse only what is wrong. */
    @Test
    void realModelsStillLoad() throws IOException {
        List<String> loaded = new ArrayList<>();
        for (String name : List.of("fmnist-cnn", "lenet5", "vgg-small", "resnet20")) { // resnet18's 45 MB of weights and gradients twice would crowd this small heap
            Path f = dir.resolve(name);
            try (Graph m = Models.byName(name).build(Backends.CPU)) {
                int channels = m.inputShape().dim(0);
                double[] half = new double[channels];
                Arrays.fill(half, 0.5);
                ModelFile.save(f, m, new DataInfo(name, TEN, new Normalization(half, half)));
            }
            try (Model back = ModelFile.load(f, Backends.CPU).model()) {
                loaded.add(name + ":" + back.parameters().size());
            }
        }
        assertEquals(List.of("fmnist-cnn:8", "lenet5:14", "vgg-small:14", "resnet20:65"), loaded);
    }
}
