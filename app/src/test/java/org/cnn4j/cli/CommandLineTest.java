package org.cnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import org.cnn4j.cli.Cli.Result;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cnn4j application end to end on the generated dataset: train, eval, predict, summary, gradcheck, devices. */
class CommandLineTest {
    @TempDir
    static Path dir;

    private static Result run(String... args) {
        return Cli.run(args);
    }

    private static Result trained;

    @BeforeAll
    static void train() {
        trained = run("train", "--data", "synthetic", "--limit", "1200", "--epochs", "2", "--batch", "64", "--device", "cpu",
                "--out", dir.resolve("run").toString());
    }

    @Test
    void trainWritesTheModelTheCheckpointAndTheReports() throws IOException {
        assertEquals(0, trained.code(), trained.err());
        assertTrue(trained.out().contains("training fmnist-cnn on shapes (1200 images, test 1200) on cpu"), trained.out());
        assertTrue(trained.out().contains("epoch 2/2  train loss"), trained.out());
        assertTrue(trained.out().contains("test set: loss"), trained.out());
        assertTrue(trained.err().contains("epoch 1/2  step 19/19"), "plain progress lines when not on a terminal: " + trained.err());
        for (String f : List.of("model.safetensors", "checkpoint.safetensors", "metrics.csv", "loss.png", "accuracy.png", "confusion.png")) {
            assertTrue(Files.size(dir.resolve("run").resolve(f)) > 0, f);
        }
        assertEquals(3, Files.readAllLines(dir.resolve("run/metrics.csv")).size());
    }

    @Test
    void resumeContinuesAfterTheLastEpoch() throws IOException {
        Path copy = Files.createDirectories(dir.resolve("resumed"));
        Files.copy(dir.resolve("run/checkpoint.safetensors"), copy.resolve("checkpoint.safetensors"));
        Result r = run("train", "--resume", copy.resolve("checkpoint.safetensors").toString(), "--epochs", "3", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("on shapes (1200 images, test 1200)"), "the checkpoint's data, limited as they were: " + r.out());
        assertTrue(r.out().contains("resuming after epoch 2") && r.out().contains("epoch 3/3"), r.out());
        assertTrue(!r.out().contains("epoch 1/3"), r.out());
        assertEquals(4, Files.readAllLines(copy.resolve("metrics.csv")).size());
        Result done = run("train", "--data", "synthetic", "--limit", "1200", "--resume", copy.resolve("checkpoint.safetensors").toString(),
                "--device", "cpu");
        assertEquals(0, done.code(), done.err());
        assertTrue(done.out().contains("the checkpoint has done its 3 epochs already: nothing to train (--epochs N, more than 3, trains further)"),
                done.out());
        assertEquals(4, Files.readAllLines(copy.resolve("metrics.csv")).size(), "no epoch added");
    }

    /** A run stopped from outside (SIGTERM, as a batch system's time limit sends it) says which checkpoint to continue from. */
    @Test
    void aStoppedRunSaysHowToContinue() throws IOException, InterruptedException {
        Path run = dir.resolve("stopped"), err = dir.resolve("stopped.err");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Cnn4j.class.getName(), "train", "--data", "synthetic", "--limit", "320",
                "--batch", "32", "--epochs", "1000", "--device", "cpu", "--threads", "1", "--out", run.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile()).start();
        try {
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (!Files.exists(run.resolve("checkpoint.safetensors")) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(100);
            Thread.sleep(200); // past the moment between the checkpoint's rename and its announcement
            assertTrue(p.isAlive(), "still training: " + Files.readString(err));
            p.destroy();
            assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        String said = Files.readString(err);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("cnn4j train: stopped in epoch (\\d+) of 1000; (\\S+) holds epoch (\\d+): "
                + "cnn4j train --resume (\\S+) continues the run").matcher(said);
        assertTrue(m.find(), said);
        assertEquals(run.resolve("checkpoint.safetensors").toString(), m.group(2));
        assertEquals(m.group(2), m.group(4));
        assertTrue(Integer.parseInt(m.group(3)) >= 1 && Integer.parseInt(m.group(1)) > Integer.parseInt(m.group(3)) - 1, said);
    }

    @Test
    void evalPrintsAccuracyPerClassAndTheConfusionMatrix() {
        Result r = run("eval", dir.resolve("run/model.safetensors").toString(), "--data", "synthetic", "--limit", "500", "--device", "cpu",
                "--out", dir.resolve("eval").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(dir.resolve("eval").resolve("confusion.png")));
        assertTrue(r.out().contains("shapes: loss") && r.out().contains("(500 images)"), r.out());
        assertTrue(r.out().contains("horizontal") && r.out().contains("ring"), r.out());
    }

    /**
     * The model file alone is evaluated on its data's whole test set, with a line saying that its
     * training (--limit 1200) tested fewer; with that --limit, eval gives training's last figures.
     */
    @Test
    void evalOfTheModelFileSaysWhereTrainingTestedFewerImages() {
        assertEquals(0, trained.code(), trained.err());
        String model = dir.resolve("run/model.safetensors").toString();
        Result all = run("eval", model, "--device", "cpu");
        assertEquals(0, all.code(), all.err());
        assertTrue(all.err().contains("the training of model.safetensors tested only the first 1200 test images (--limit 1200); "
                + "all of them are evaluated here, and --limit 1200 evaluates what it tested"), all.err());
        assertTrue(!all.out().contains("(1200 images)"), all.out());
        Result limited = run("eval", model, "--limit", "1200", "--device", "cpu");
        assertEquals(0, limited.code(), limited.err());
        assertTrue(!limited.err().contains("tested only"), limited.err());
        String lastTest = trained.out().substring(trained.out().indexOf("test set: loss ") + "test set: ".length());
        assertTrue(limited.out().startsWith("shapes: " + lastTest.substring(0, lastTest.indexOf('\n'))), limited.out() + " against " + trained.out());
    }

    @Test
    void predictClassifiesImageFiles() throws IOException {
        // A white ring on black, 56×56: the model sees it scaled to 28×28.
        BufferedImage ring = new BufferedImage(56, 56, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = ring.createGraphics();
        g.setColor(Color.WHITE);
        g.setStroke(new java.awt.BasicStroke(4));
        g.drawOval(10, 10, 36, 36);
        g.dispose();
        Path png = dir.resolve("ring.png"), jpg = dir.resolve("ring.jpg");
        ImageIO.write(ring, "png", png.toFile());
        ImageIO.write(ring, "jpg", jpg.toFile());
        Result r = run("predict", dir.resolve("run/model.safetensors").toString(), png.toString(), jpg.toString(), "--top", "3", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(2, lines.length, r.out());
        assertTrue(lines[0].startsWith(png + ":") && lines[0].split("probability").length == 4, r.out());
        double sumOfTop3 = 0;
        for (String part : lines[0].split("probability ")) if (Character.isDigit(part.charAt(0))) sumOfTop3 += Double.parseDouble(part.substring(0, 6));
        assertTrue(sumOfTop3 > 0 && sumOfTop3 <= 1.0001, r.out());

        Path notAnImage = dir.resolve("notes.png");
        Files.writeString(notAnImage, "hello");
        r = run("predict", dir.resolve("run/model.safetensors").toString(), notAnImage.toString(), "--device", "cpu");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("notes.png: not an image format Java can read"), r.err());

        Path missing = dir.resolve("gone.png"), csv = dir.resolve("predictions.csv");
        r = run("predict", dir.resolve("run/model.safetensors").toString(), png.toString(), notAnImage.toString(), missing.toString(), jpg.toString(),
                "--skip-bad-images", "--csv", csv.toString(), "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of(lines[0].substring(0, lines[0].indexOf("  ")), lines[1].substring(0, lines[1].indexOf("  "))),
                r.out().strip().lines().map(l -> l.substring(0, l.indexOf("  "))).toList(), "the readable images, in order: " + r.out());
        assertTrue(r.err().contains("skipped " + notAnImage + ": not an image format Java can read"), r.err());
        assertTrue(r.err().contains("skipped " + missing + ": no such file"), r.err());
        assertTrue(r.err().contains("skipped 2 of 4 images that could not be read"), r.err());
        assertEquals(3, Files.readAllLines(csv).size(), "the header and the two readable images");
    }

    /** export writes an ONNX file of a trained model (with its data description) or of a built-in one. */
    @Test
    void exportWritesOnnx() throws IOException {
        Path onnx = dir.resolve("m.onnx");
        Result r = run("export", dir.resolve("run/model.safetensors").toString(), "--onnx", onnx.toString());
        assertEquals(0, r.code(), r.err());
        ai.onnx.proto.OnnxMl.ModelProto proto = ai.onnx.proto.OnnxMl.ModelProto.parseFrom(Files.readAllBytes(onnx));
        assertEquals("cnn4j.data", proto.getMetadataProps(0).getKey());
        // the ONNX file evaluates as the model file it came from (its classes, normalisation and seed in its metadata)
        Result fromFile = run("eval", dir.resolve("run/model.safetensors").toString(), "--data", "synthetic", "--limit", "300", "--device", "cpu");
        Result fromOnnx = run("eval", onnx.toString(), "--data", "synthetic", "--limit", "300", "--device", "cpu");
        assertEquals(0, fromOnnx.code(), fromOnnx.err());
        assertEquals(fromFile.out(), fromOnnx.out());
        assertTrue(run("summary", onnx.toString()).out().contains("conv1"), "summary reads ONNX files too");
        // training goes on from the ONNX file's weights, with its normalisation
        Result further = run("train", "--model", onnx.toString(), "--data", "synthetic", "--limit", "300", "--epochs", "1", "--device", "cpu",
                "--out", dir.resolve("further").toString());
        assertEquals(0, further.code(), further.err());
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1)) {
            org.cnn4j.io.ModelFile.Loaded before = org.cnn4j.io.ModelFile.load(dir.resolve("run/model.safetensors"), cpu),
                    after = org.cnn4j.io.ModelFile.load(dir.resolve("further/model.safetensors"), cpu);
            assertEquals(before.data().normalization(), after.data().normalization(), "the inputs normalised as the weights expect");
            assertTrue(!java.util.Arrays.equals(before.model().parameters().getFirst().value().toFloatArray(),
                    after.model().parameters().getFirst().value().toFloatArray()), "trained further");
            before.model().close();
            after.model().close();
        }
        for (String model : org.cnn4j.model.Models.NAMES) { // every built-in model, LeNet-5's subsampling and map combinations too
            Result r2 = run("export", model, "--onnx", dir.resolve(model + ".onnx").toString());
            assertEquals(0, r2.code(), model + ": " + r2.err());
        }
        assertTrue(run("summary", dir.resolve("lenet5.onnx").toString()).out().contains("Subsampling"), "LeNet-5's subsampling comes back");
    }

    /** --mean and --std normalise the inputs of a model file without a normalisation of its own (a PyTorch ONNX file). */
    @Test
    void meanAndStdNormaliseAnOnnxModelsInputs() throws IOException {
        Path onnx = dir.resolve("torch.onnx"), png = dir.resolve("gradient.png");
        try (java.io.InputStream in = getClass().getResourceAsStream("/onnx/torch-resnet20.onnx")) {
            Files.copy(in, onnx, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        BufferedImage image = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        float[] x = new float[3 * 1024];
        for (int y = 0; y < 32; y++) {
            for (int c = 0; c < 32; c++) {
                image.setRGB(c, y, (c * 8) << 16 | (y * 8) << 8 | 128);
                x[y * 32 + c] = (c * 8 / 255f - 0.4f) / 0.2f;
                x[1024 + y * 32 + c] = (y * 8 / 255f - 0.5f) / 0.25f;
                x[2048 + y * 32 + c] = (128 / 255f - 0.6f) / 0.3f;
            }
        }
        ImageIO.write(image, "png", png.toFile());
        Result r = run("predict", onnx.toString(), png.toString(), "--top", "1", "--mean", "0.4,0.5,0.6", "--std", "0.2,0.25,0.3", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        double[] p;
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1);
             org.cnn4j.model.Model m = org.cnn4j.onnx.OnnxImport.read(onnx, cpu).model()) {
            org.cnn4j.tensor.Tensor in = cpu.upload(m.inputShape().batch(1), x);
            p = org.cnn4j.model.Classifier.scores(m.forward(in, org.cnn4j.layer.Pass.INFERENCE).toFloatArray(), 0, 10, true);
            in.close();
        }
        int best = org.cnn4j.model.Classifier.ranking(p, 1)[0];
        assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, ":  %d (probability %.4f)", best, p[best])), r.out());
        // --resize: the shorter side scaled first, then the centre crop, as torchvision's Resize(40) and CenterCrop(32)
        BufferedImage wide = new BufferedImage(60, 45, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 45; y++) for (int c = 0; c < 60; c++) wide.setRGB(c, y, (c * 4) << 16 | (y * 5) << 8 | ((c * y) & 0xFF));
        Path widePng = dir.resolve("wide.png");
        ImageIO.write(wide, "png", widePng.toFile());
        Result resized = run("predict", onnx.toString(), widePng.toString(), "--top", "1", "--resize", "40", "--device", "cpu");
        assertEquals(0, resized.code(), resized.err());
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1);
             org.cnn4j.model.Model m = org.cnn4j.onnx.OnnxImport.read(onnx, cpu).model()) {
            org.cnn4j.data.DataInfo info = new org.cnn4j.data.DataInfo("t", List.of("a", "b"), org.cnn4j.data.Normalization.identity(3),
                    new org.cnn4j.data.Preprocessing(m.inputShape(), 40), null);
            org.cnn4j.tensor.Tensor in = cpu.upload(m.inputShape().batch(1), org.cnn4j.data.Images.load(List.of(widePng), m.inputShape(), false, info));
            p = org.cnn4j.model.Classifier.scores(m.forward(in, org.cnn4j.layer.Pass.INFERENCE).toFloatArray(), 0, 10, true);
            in.close();
        }
        best = org.cnn4j.model.Classifier.ranking(p, 1)[0];
        assertTrue(resized.out().contains(String.format(java.util.Locale.ROOT, ":  %d (probability %.4f)", best, p[best])), resized.out());
        Result small = run("predict", onnx.toString(), widePng.toString(), "--resize", "20", "--device", "cpu");
        assertEquals(2, small.code());
        assertTrue(small.err().contains("--resize 20: the shorter side is resized to between max(h, w) = 32"), small.err());
        // --class-names: the ten outputs named by a file (blank lines at its end ignored); a count that differs is refused
        Path names = dir.resolve("classes.txt");
        Files.writeString(names, "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
        Result named = run("predict", onnx.toString(), widePng.toString(), "--top", "1", "--resize", "40", "--class-names", names.toString(), "--device", "cpu");
        assertEquals(0, named.code(), named.err());
        String name = List.of("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck").get(best);
        assertTrue(named.out().contains(String.format(java.util.Locale.ROOT, ":  %s (probability %.4f)", name, p[best])), named.out());
        Files.writeString(names, "plane\ncar\n");
        Result two = run("predict", onnx.toString(), png.toString(), "--class-names", names.toString(), "--device", "cpu");
        assertEquals(2, two.code());
        assertTrue(two.err().contains("classes.txt has 2 names; the model has 10 outputs"), two.err());
        assertEquals(2, run("predict", onnx.toString(), png.toString(), "--class-names", dir.resolve("none.txt").toString()).code(), "no such file");
        Files.write(names, new byte[] {'c', 'a', 'f', (byte) 0xE9, '\n'}); // Latin-1
        Result latin1 = run("predict", onnx.toString(), png.toString(), "--class-names", names.toString(), "--device", "cpu");
        assertEquals(2, latin1.code());
        assertTrue(latin1.err().contains("classes.txt: not UTF-8 text"), latin1.err());
        assertEquals(2, run("predict", onnx.toString(), png.toString(), "--mean", "0.4,0.5,0.6").code(), "--mean without --std");
        Result channels = run("predict", onnx.toString(), png.toString(), "--mean", "0.4,0.5", "--std", "0.2,0.25", "--device", "cpu");
        assertEquals(2, channels.code());
        assertTrue(channels.err().contains("--mean and --std have 2 values; the model's input has 3 channels"), channels.err());
    }

    @Test
    void summaryGradcheckAndDevices() {
        Result r = run("summary", "lenet5");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Subsampling") && r.out().contains("ScaledTanh"), r.out());
        r = run("summary", "resnet18", "--image-size", "64", "--classes", "100");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("input (3, 64, 64)") && r.out().contains("(512, 8, 8)") && r.out().contains("Dense 512→100"), r.out());
        r = run("summary", "lenet5", "--image-size", "64");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--image-size applies to resnet20 and resnet18, not to lenet5"), r.err());
        r = run("gradcheck", "lenet5", "--elements", "10");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("PASSED: worst relative error"), r.out());
        r = run("devices");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("cpu:"), r.out());
        assertTrue(r.out().contains("\n  kernels: " + org.cnn4j.backend.cpu.CpuBackend.kernels() + "\n"), "the CPU's kernels, under it:\n" + r.out());
        List<String> gpu = r.out().lines().dropWhile(l -> !l.startsWith("gpu:")).toList();
        if (gpu.getFirst().startsWith("gpu: not available")) {
            assertEquals(1, gpu.size(), "without a GPU, one line says why:\n" + r.out());
            assertTrue(gpu.getFirst().matches("gpu: not available — .*(cannot|not found|no CUDA device).*"), gpu.getFirst());
        } else {
            String all = String.join("\n", gpu);
            assertTrue(all.contains("compute capability") && all.contains("CUDA driver: ") && all.contains("cuDNN ") && all.contains("cuBLAS "), all);
        }
    }

    @Test
    void benchTimesEachLayerAndSkipsAnUnusableGpuWithTheReason() throws IOException {
        Path png = dir.resolve("layers.png");
        Result r = run("bench", "--model", "lenet5", "--batch", "8", "--windows", "1", "--repeats", "1", "--devices", "cpu,gpu",
                "--chart", png.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("skipping gpu: --device gpu: no usable GPU") || r.out().contains("cuda("), r.out());
        for (String layer : List.of("c1 ", "s2 ", "c5_act", "output", "whole step (sum of layers)")) assertTrue(r.out().contains(layer), r.out());
        assertTrue(Files.size(png) > 0);
        // a ResNet's long layer names and descriptions widen the columns: every line's times start at one place
        Result resnet = run("bench", "--model", "resnet20", "--batch", "2", "--windows", "1", "--repeats", "1", "--devices", "cpu");
        assertEquals(0, resnet.code(), resnet.err());
        List<Integer> bars = resnet.out().lines().filter(l -> l.contains(" | ")).map(l -> l.indexOf(" | ")).distinct().toList();
        assertEquals(1, bars.size(), resnet.out());
        assertTrue(resnet.out().matches("(?s).*layer1\\.0\\.conv1 +Conv2d 16→16 3×3 pad 1 no bias +\\| .*"), resnet.out());
    }

    /** A ResNet takes the data's image shape and its own defaults (batch 128, learning rate 0.1). */
    @Test
    void resnet20TrainsAtTheDatasImageSizeWithItsDefaults() throws IOException {
        Result r = run("train", "--model", "resnet20", "--data", "synthetic", "--limit", "128", "--epochs", "1", "--device", "cpu",
                "--out", dir.resolve("resnet").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("training resnet20 on shapes (128 images, test 128) on cpu"), r.out());
        assertTrue(r.out().contains("SGD lr=0.1 momentum=0.9") && r.out().contains("batch 128, 1 epoch,"), r.out());
        Result summary = run("summary", dir.resolve("resnet/model.safetensors").toString());
        assertTrue(summary.out().contains("layer3.2.add") && summary.out().contains("Add ← layer3.2.bn2, layer3.1.relu2"), summary.out());
        assertTrue(summary.out().contains("input (1, 28, 28)"), summary.out());

        String file = dir.resolve("resnet/model.safetensors").toString();
        Result plain = run("eval", file, "--data", "synthetic", "--limit", "128", "--device", "cpu");
        Result folded = run("eval", file, "--data", "synthetic", "--limit", "128", "--device", "cpu", "--fold-batch-norm");
        assertEquals(0, folded.code(), folded.err());
        assertTrue(folded.out().contains("folded: bn1 into conv1, layer1.0.bn1 into layer1.0.conv1"), folded.out());
        assertEquals(plain.out().lines().filter(l -> l.contains("accuracy ")).toList(), folded.out().lines().filter(l -> l.contains("accuracy ")).toList(),
                "the same loss and accuracy, folded or not");
        Result foldedSummary = run("summary", file, "--fold-batch-norm");
        assertTrue(foldedSummary.out().contains("layer3.2.bn2 into layer3.2.conv2") && !foldedSummary.out().contains("BatchNorm2d"), foldedSummary.out());
    }

    /** Generated RGB shapes of 20×20 as PNG files, a folder per class: the dataset they came from. */
    private static org.cnn4j.data.Dataset writeShapes(Path images, int count) throws IOException {
        org.cnn4j.data.Dataset shapes = org.cnn4j.data.SyntheticShapes.generate(count, 3, 20, 3, 9);
        for (int i = 0; i < shapes.size(); i++) {
            BufferedImage image = new BufferedImage(20, 20, BufferedImage.TYPE_INT_RGB);
            byte[] px = shapes.pixels(i);
            for (int y = 0; y < 20; y++) {
                for (int x = 0; x < 20; x++) {
                    image.setRGB(x, y, (px[y * 20 + x] & 0xFF) << 16 | (px[400 + y * 20 + x] & 0xFF) << 8 | (px[800 + y * 20 + x] & 0xFF));
                }
            }
            Path folder = images.resolve(shapes.classNames().get(shapes.label(i)));
            Files.createDirectories(folder);
            ImageIO.write(image, "png", folder.resolve(i + ".png").toFile());
        }
        return shapes;
    }

    /**
     * A run on an image folder resumed by its checkpoint alone ends bitwise as the run that was
     * never stopped: the checkpoint names the folder, the held-out share and the resize. An option
     * that would change the run is refused, naming both values; data that moved are found again
     * by --data. The model file alone is evaluated on the images its training held out, and
     * trained further on its data with the same images held out.
     */
    @Test
    void aResumedRunReadsItsDataAsItBegan() throws IOException {
        Path images = dir.resolve("resumed-photos");
        writeShapes(images, 40);
        List<String> common = List.of("train", "--model", "resnet20", "--data", images.toString(), "--image-size", "16", "--resize", "18",
                "--val-fraction", "0.2", "--random-resized-crop", "0.5", "--batch", "8", "--device", "cpu");
        Path whole = dir.resolve("resumed-whole"), stopped = dir.resolve("resumed-stopped");
        Result r = run(concat(common, "--epochs", "2", "--out", whole.toString()));
        assertEquals(0, r.code(), r.err());
        assertEquals(0, run(concat(common, "--epochs", "1", "--out", stopped.toString())).code());
        Path checkpoint = stopped.resolve("checkpoint.safetensors");
        Result refused = run("train", "--resume", checkpoint.toString(), "--epochs", "2", "--lr", "0.01", "--val-fraction", "0.3", "--augment",
                "--resize", "20", "--device", "cpu");
        assertEquals(2, refused.code(), refused.err());
        assertTrue(refused.err().contains("which had --val-fraction 0.2, not 0.3; had --resize 18, not 20; had --lr 0.1, not 0.01; had --augment off, not on. "
                + "Leave the options out, or train a new run from its weights: --model " + checkpoint), refused.err());
        Result resumed = run("train", "--resume", checkpoint.toString(), "--epochs", "2", "--device", "cpu");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("on resumed-photos-train (32 images, test 8)"), resumed.out());
        assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")), Files.readAllBytes(stopped.resolve("model.safetensors")));
        Result again = run(concat(common, "--resume", checkpoint.toString(), "--epochs", "3", "--out", stopped.toString()));
        assertEquals(0, again.code(), "the run's own command line with --resume: " + again.err());
        // eval of the model file alone: the images that training held out, with training's last figures
        Result eval = run("eval", whole.resolve("model.safetensors").toString(), "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        String lastTest = r.out().substring(r.out().indexOf("test set: loss ") + "test set: ".length());
        assertTrue(eval.out().startsWith("resumed-photos-val: " + lastTest.substring(0, lastTest.indexOf('\n'))), eval.out() + " against " + r.out());
        Result other = run("eval", whole.resolve("model.safetensors").toString(), "--val-fraction", "0.5", "--device", "cpu");
        assertEquals(0, other.code(), other.err());
        assertTrue(other.err().contains("--val-fraction 0.5 differs from the 0.2 that the training of model.safetensors held out: "
                + "where the data are an unsplit folder, some of the images evaluated were trained on"), other.err());
        assertTrue(other.out().contains("(21 images)"), "half of each class: " + other.out());
        // trained further from the model file, with another seed: on its data, holding out the images held out before
        Path further = dir.resolve("resumed-further");
        Result more = run("train", "--model", whole.resolve("model.safetensors").toString(), "--seed", "9", "--epochs", "1", "--device", "cpu",
                "--out", further.toString());
        assertEquals(0, more.code(), more.err());
        assertTrue(more.out().contains("on resumed-photos-train (32 images, test 8)"), more.out());
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1)) {
            org.cnn4j.io.ModelFile.Loaded before = org.cnn4j.io.ModelFile.load(whole.resolve("model.safetensors"), cpu),
                    after = org.cnn4j.io.ModelFile.load(further.resolve("model.safetensors"), cpu);
            before.model().close();
            after.model().close();
            assertTrue(before.metadata().get("cnn4j.cli.data").contains("\"seed\":42"), before.metadata().toString());
            assertEquals(before.metadata().get("cnn4j.cli.data"), after.metadata().get("cnn4j.cli.data"), "the same data, split as before");
            assertEquals(new org.cnn4j.data.Preprocessing(org.cnn4j.tensor.Shape.of(3, 16, 16), 18), after.data().preprocessing(),
                    "the images prepared as before (--resize 18)");
        }
        // and that run resumed (its seed 9, its data's draw 42): the same images held out still
        Result furtherOn = run("train", "--resume", further.resolve("checkpoint.safetensors").toString(), "--epochs", "2", "--device", "cpu");
        assertEquals(0, furtherOn.code(), furtherOn.err());
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1)) {
            org.cnn4j.io.ModelFile.Loaded before = org.cnn4j.io.ModelFile.load(whole.resolve("model.safetensors"), cpu),
                    after = org.cnn4j.io.ModelFile.load(further.resolve("model.safetensors"), cpu);
            before.model().close();
            after.model().close();
            assertEquals(before.metadata().get("cnn4j.cli.data"), after.metadata().get("cnn4j.cli.data"), "resumed, split as before");
        }
        Path moved = dir.resolve("moved-photos");
        Files.move(images, moved);
        Result gone = run("train", "--resume", checkpoint.toString(), "--epochs", "4", "--device", "cpu");
        assertEquals(2, gone.code());
        assertTrue(gone.err().contains("the data of the run that " + checkpoint + " recorded are no longer at " + images
                + ": give --data where they are now"), gone.err());
        Result found = run("train", "--resume", checkpoint.toString(), "--epochs", "4", "--data", moved.toString(), "--device", "cpu");
        assertEquals(0, found.code(), found.err());
        Result evalGone = run("eval", whole.resolve("model.safetensors").toString(), "--device", "cpu");
        assertEquals(2, evalGone.code());
        assertTrue(evalGone.err().contains("the data " + whole.resolve("model.safetensors") + " was trained on are no longer at " + images), evalGone.err());
    }

    private static String[] concat(List<String> common, String... more) {
        return java.util.stream.Stream.concat(common.stream(), java.util.Arrays.stream(more)).toArray(String[]::new);
    }

    /**
     * A folder of PNGs, one folder per class, trains a ResNet at --image-size (resized to --resize
     * first, with random resized crops), and evaluation prepares the images as the model file says:
     * the same loss on the same held-out images as training's last evaluation.
     */
    @Test
    void trainsOnAFolderOfImages() throws IOException {
        Path images = dir.resolve("photos");
        org.cnn4j.data.Dataset shapes = writeShapes(images, 60);
        Result r = run("train", "--model", "resnet20", "--data", images.toString(), "--image-size", "16", "--resize", "18", "--val-fraction", "0.2",
                "--random-resized-crop", "0.5", "--epochs", "1", "--batch", "16", "--device", "cpu", "--out", dir.resolve("photos-run").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("training resnet20 on photos-train (48 images, test 12)"), r.out());
        Path file = dir.resolve("photos-run/model.safetensors");
        Result summary = run("summary", file.toString());
        assertTrue(summary.out().contains("input (3, 16, 16)"), summary.out());
        org.cnn4j.data.Normalization normalization;
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend()) {
            org.cnn4j.io.ModelFile.Loaded loaded = org.cnn4j.io.ModelFile.load(file, cpu);
            loaded.model().close();
            assertEquals(new org.cnn4j.data.Preprocessing(org.cnn4j.tensor.Shape.of(3, 16, 16), 18), loaded.data().preprocessing());
            assertEquals(java.util.Set.of("randomResizedCrop", "horizontalFlip"), loaded.data().augmentation().keySet());
            normalization = loaded.data().normalization();
        }
        Result eval = run("eval", file.toString(), "--data", images.toString(), "--val-fraction", "0.2", "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        // the model as an ONNX file from elsewhere (no cnn4j.data, so classes by number): evaluated in the folder's class names
        Path onnx = dir.resolve("photos-run/model.onnx");
        assertEquals(0, run("export", file.toString(), "--onnx", onnx.toString()).code());
        ai.onnx.proto.OnnxMl.ModelProto.Builder proto = ai.onnx.proto.OnnxMl.ModelProto.parseFrom(Files.readAllBytes(onnx)).toBuilder();
        for (int i = proto.getMetadataPropsCount() - 1; i >= 0; i--) if (proto.getMetadataProps(i).getKey().equals("cnn4j.data")) proto.removeMetadataProps(i);
        Files.write(onnx, proto.build().toByteArray());
        Result numbered = run("eval", onnx.toString(), "--data", images.toString(), "--val-fraction", "0.2", "--device", "cpu");
        assertEquals(0, numbered.code(), numbered.err());
        List<String> sorted = shapes.classNames().stream().sorted().toList(); // the folders' names, sorted, are the classes
        String names = String.join(", ", java.util.stream.IntStream.range(0, 3).mapToObj(i -> i + " " + sorted.get(i)).toList());
        assertTrue(numbered.err().contains("model.onnx numbers its classes; taking photos-val's names for them in order: " + names), numbered.err());
        assertTrue(numbered.out().contains("(12 images)") && numbered.out().contains(shapes.classNames().get(2)), numbered.out());
        // given the model file's normalisation and resize, the ONNX file evaluates as the model file does
        java.util.function.Function<double[], String> list = v -> String.join(",", java.util.Arrays.stream(v).mapToObj(d -> Double.toString(d)).toList());
        Result same = run("eval", onnx.toString(), "--data", images.toString(), "--val-fraction", "0.2", "--device", "cpu", "--resize", "18",
                "--mean", list.apply(normalization.mean()), "--std", list.apply(normalization.std()));
        assertEquals(0, same.code(), same.err());
        assertEquals(eval.out().lines().filter(l -> l.contains(": loss")).toList(), same.out().lines().filter(l -> l.contains(": loss")).toList());
        Result refused = run("predict", file.toString(), images.resolve(shapes.classNames().get(0)).toString(), "--resize", "30", "--device", "cpu");
        assertEquals(2, refused.code());
        assertTrue(refused.err().contains("--resize 30: the model prepares its images as it was trained to"), refused.err());
        Path abc = dir.resolve("photos-run/names.txt");
        Files.writeString(abc, "a\nb\nc\n");
        refused = run("predict", file.toString(), images.resolve(shapes.classNames().get(0)).toString(), "--class-names", abc.toString(), "--device", "cpu");
        assertEquals(2, refused.code());
        assertTrue(refused.err().contains("--class-names: the model file names its classes itself"), refused.err());
        // the ONNX file's classes named a, b, c: no longer the folder's, so eval refuses the folder
        Result misnamed = run("eval", onnx.toString(), "--data", images.toString(), "--val-fraction", "0.2", "--class-names", abc.toString(), "--device", "cpu");
        assertEquals(1, misnamed.code(), misnamed.err());
        assertTrue(misnamed.err().contains("in the classes [a, b, c] but photos-val"), misnamed.err());
        assertTrue(eval.out().contains("photos-val: loss") && eval.out().contains("(12 images)"), "the 12 images training held out: " + eval.out());
        java.util.regex.Pattern loss = java.util.regex.Pattern.compile(": loss (\\S+), accuracy");
        java.util.regex.Matcher trained = loss.matcher(r.out().substring(r.out().indexOf("test set: loss") - 2)), evaluated = loss.matcher(eval.out());
        assertTrue(trained.find() && evaluated.find(), r.out() + eval.out());
        assertEquals(trained.group(1), evaluated.group(1), "the held-out images prepared as in training (resized to 18)");
        Result otherResize = run("eval", file.toString(), "--data", images.toString(), "--resize", "20", "--device", "cpu");
        assertEquals(2, otherResize.code());
        assertTrue(otherResize.err().contains("--resize 20: the model prepares its images as it was trained to: shorter side to 18"), otherResize.err());
        Path table = dir.resolve("predictions.csv");
        Result predict = run("predict", dir.resolve("photos-run/model.safetensors").toString(), images.resolve("horizontal").toString(),
                "--top", "2", "--csv", table.toString(), "--device", "cpu");
        assertEquals(0, predict.code(), predict.err());
        List<String> rows = Files.readAllLines(table);
        assertEquals("path,class1,probability1,class2,probability2", rows.get(0));
        long horizontals = shapes.labels().length == 0 ? 0 : java.util.Arrays.stream(shapes.labels()).filter(y -> y == 0).count();
        assertEquals(horizontals, rows.size() - 1, "a row per image of the folder");
        assertEquals(horizontals, predict.out().lines().filter(l -> l.contains("(probability ")).count(), predict.out());
        Files.write(images.resolve("vertical").resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G'});
        Result stops = run("train", "--model", "resnet20", "--data", images.toString(), "--image-size", "16", "--epochs", "1",
                "--device", "cpu", "--out", dir.resolve("photos-stop").toString());
        assertEquals(1, stops.code());
        assertTrue(stops.err().contains("broken.png"), stops.err());
        Result skips = run("train", "--model", "resnet20", "--data", images.toString(), "--image-size", "16", "--epochs", "1",
                "--batch", "16", "--device", "cpu", "--out", dir.resolve("photos-skip").toString(), "--skip-bad-images", "--image-memory", "0");
        assertEquals(0, skips.code(), skips.err());
        assertTrue(skips.out().contains("skipped 1 image that could not be decoded: ") && skips.out().contains("broken.png"), skips.out());
        assertTrue(skips.out().contains("peak Java heap "), skips.out());
        assertTrue(skips.err().contains("reading 55 images of photos-train"), "the first pass shows its progress: " + skips.err());
        try (java.util.stream.Stream<Path> caches = Files.list(dir.resolve("photos-skip/cache"))) {
            assertEquals(2, caches.filter(p -> p.toString().endsWith(".pixels")).count(), "beyond --image-memory: the sets in cache files");
        }
        Result wrongSize = run("train", "--model", "fmnist-cnn", "--data", images.toString(), "--image-size", "16", "--out", dir.resolve("x").toString());
        assertEquals(2, wrongSize.code());
        assertTrue(wrongSize.err().contains("--image-size 16: this model takes images of 28×28"), wrongSize.err());
        Result bombs = run("train", "--model", "resnet20", "--data", images.toString(), "--max-pixels", "399", "--device", "cpu",
                "--out", dir.resolve("photos-bombs").toString());
        assertEquals(1, bombs.code());
        assertTrue(bombs.err().contains("the header claims 20×20 = 400 pixels, more than the limit of 399"), bombs.err());
        Result grey = run("train", "--model", "fmnist-cnn", "--data", images.toString(), "--epochs", "1", "--batch", "16", "--skip-bad-images",
                "--device", "cpu", "--out", dir.resolve("photos-grey").toString());
        assertEquals(0, grey.code(), grey.err());
        assertTrue(run("summary", dir.resolve("photos-grey/model.safetensors").toString()).out().contains("Dense 128→3"),
                "fmnist-cnn takes the folder's three classes, its images in grey at 28×28");
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : List.of("train", "eval", "predict", "summary", "gradcheck", "devices", "bench")) {
            Result r = run(command, "--help");
            assertEquals(0, r.code(), command);
            assertTrue(r.out().contains("Usage: cnn4j " + command), r.out());
        }
    }

    @Test
    void clearErrorsWithoutStackTraces() throws IOException {
        Result r = run("train", "--device", "gpu", "--data", "synthetic", "--out", dir.resolve("gpu").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("cnn4j train: --device gpu: no usable GPU"), r.err());
        Path broken = dir.resolve("broken.safetensors");
        Files.write(broken, new byte[] {1, 2, 3});
        r = run("eval", broken.toString(), "--data", "synthetic");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("broken.safetensors (at byte 0): the file is 3 bytes, too short"), r.err());
        assertTrue(!r.err().contains("\tat org.cnn4j"), "no stack trace: " + r.err());
        r = run("train", "--model", "resnet50", "--data", "synthetic", "--out", dir.resolve("resnet").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("unknown model 'resnet50'"), r.err());
        assertTrue(!Files.exists(dir.resolve("resnet")), "no output directory for a model that does not exist");
        r = run("train", "--epochs", "many");
        assertEquals(2, r.code(), "usage error");
    }
}
