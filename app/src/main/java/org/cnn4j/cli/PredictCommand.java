package org.cnn4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.ImageFolder;
import org.cnn4j.data.Images;
import org.cnn4j.io.AtomicFiles;
import org.cnn4j.io.ModelFile;
import org.cnn4j.layer.Pass;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Classifier;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Classifies images with a model file: prints each image's most likely classes and their "
                + "probabilities. Images are converted to the model's channels, their shorter side scaled to its input "
                + "size and the centre cropped, as an image folder's are for training.")
final class PredictCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A model or checkpoint file.")
    Path model;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "IMAGE", description = "Image files (PNG, JPEG, BMP, GIF), or folders: their images.")
    List<Path> images;

    @Option(names = "--csv", paramLabel = "FILE", description = "Also write the predictions to this CSV file: path, then class and probability for each of the top classes.")
    Path csv;

    @Option(names = "--top", defaultValue = "1", description = "How many classes to print per image (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--invert", description = "Invert the images first (Fashion-MNIST and MNIST are light objects on black).")
    boolean invert;

    @Option(names = "--max-pixels", defaultValue = "89478485",
            description = "Largest image, in pixels: a file whose header claims more is refused before decoding (default: ${DEFAULT-VALUE}).")
    long maxPixels;

    @Option(names = "--skip-bad-images", description = "Leave out the images that cannot be read or decoded (each named on standard error "
            + "with the reason, counted at the end) instead of stopping at the first.")
    boolean skipBadImages;

    @Mixin
    DeviceOptions device;

    @Mixin
    NormalizationOptions normalization;

    @Option(names = "--resize", defaultValue = "0", paramLabel = "N",
            description = "Scale the shorter side of each image to N before the centre crop of the model's input (torchvision's Resize(N) "
                    + "then CenterCrop), for a model file that does not record how its images were prepared (an ONNX file from elsewhere; "
                    + "default: just enough for the crop).")
    int resize;

    @Option(names = "--fold-batch-norm", description = "Fold each batch normalisation into the convolution or dense layer before it "
            + "first (the same outputs to float rounding, one pass less per normalisation).")
    boolean fold;

    /** The most images one command classifies. */
    static final int MAX_IMAGES = 1_000_000;
    /** Images go through the model this many at a time. */
    static final int BATCH = 256;

    @Override
    public Integer call() throws Exception {
        Checks.range("--top", top, 1, 1_000_000);
        Checks.range("--max-pixels", maxPixels, 1, 1L << 32);
        Checks.range("--resize", resize, 0, org.cnn4j.data.Preprocessing.MAX_SIDE);
        List<Path> files = new ArrayList<>();
        for (Path p : images) {
            if (java.nio.file.Files.isDirectory(p)) {
                List<Path> inside = ImageFolder.images(p);
                if (inside.isEmpty()) throw new IllegalArgumentException(p + ": a folder without image files (PNG, JPEG, BMP, GIF)");
                files.addAll(inside);
            } else {
                files.add(p);
            }
        }
        Checks.range("the number of images", files.size(), 1, MAX_IMAGES);
        if (csv != null && csv.toAbsolutePath().getParent() != null) Checks.writableDirectory("--csv's directory", csv.toAbsolutePath().getParent());
        device.check();
        normalization.check();
        StringBuilder table = new StringBuilder("path");
        List<Path> skipped = new ArrayList<>();
        try (Backend backend = device.open()) {
            ModelFile.Loaded loaded = normalization.load(model, backend);
            DataInfo info = loaded.data();
            try (Model m = ModelSource.folded(loaded.model(), fold)) {
                info = resized(info, m.inputShape());
                int batch = Math.min(BATCH, files.size());
                Checks.fitsInMemory("a batch of images", batch, m, backend, 1);
                List<String> names = info.classNames();
                int k = m.outputShape().size(), shown = Math.min(top, k);
                for (int c = 1; c <= shown; c++) table.append(",class").append(c).append(",probability").append(c);
                table.append('\n');
                boolean logits = m.lossFunction() instanceof SoftmaxCrossEntropy;
                for (int from = 0; from < files.size(); from += batch) {
                    List<Path> part = files.subList(from, Math.min(files.size(), from + batch));
                    float[] x;
                    try {
                        x = Images.load(part, m.inputShape(), invert, info, maxPixels);
                    } catch (IOException e) {
                        if (!skipBadImages) throw e;
                        List<Path> good = new ArrayList<>();
                        x = readable(part, m.inputShape(), info, good, skipped);
                        part = good;
                        if (part.isEmpty()) continue;
                    }
                    Tensor input = backend.upload(m.inputShape().batch(part.size()), x);
                    float[] out = m.forward(input, Pass.INFERENCE).toFloatArray();
                    input.close();
                    for (int i = 0; i < part.size(); i++) {
                        double[] p = Classifier.scores(out, i * k, k, logits);
                        StringBuilder line = new StringBuilder(part.get(i) + ":");
                        table.append(quoted(part.get(i).toString()));
                        for (int c : Classifier.ranking(p, shown)) {
                            line.append(String.format(Locale.ROOT, "  %s (%s %.4f)", names.get(c), logits ? "probability" : "score", p[c]));
                            table.append(',').append(quoted(names.get(c))).append(String.format(Locale.ROOT, ",%.6f", p[c]));
                        }
                        table.append('\n');
                        System.out.println(line);
                    }
                }
            }
        }
        if (csv != null) {
            byte[] bytes = table.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            AtomicFiles.write(csv, out -> out.write(bytes));
        }
        if (!skipped.isEmpty()) System.err.println("skipped " + skipped.size() + " of " + files.size() + " images that could not be read");
        return 0;
    }

    /**
     * The batch of the images of {@code part} that load, each loaded alone and added to {@code good};
     * the others are named on standard error and added to {@code skipped}.
     */
    private float[] readable(List<Path> part, Shape sample, DataInfo info, List<Path> good, List<Path> skipped) {
        float[] batch = new float[Math.multiplyExact(part.size(), sample.size())];
        for (Path p : part) {
            try {
                float[] one = Images.load(List.of(p), sample, invert, info, maxPixels);
                System.arraycopy(one, 0, batch, good.size() * one.length, one.length);
                good.add(p);
            } catch (IOException e) {
                String m = e.getMessage();
                System.err.println("skipped " + (m != null && m.startsWith(p + ": ") ? m : p + ": " + e)); // named once, whoever threw
                skipped.add(p);
            }
        }
        return java.util.Arrays.copyOf(batch, good.size() * sample.size());
    }

    /** A CSV field: quoted when it holds a comma, a quote or a line break. */
    private static String quoted(String field) {
        return field.matches("[^,\"\r\n]*") ? field : "\"" + field.replace("\"", "\"\"") + "\"";
    }

    /** The data description with --resize, where it is given and the file records no preparation of its own. */
    private DataInfo resized(DataInfo info, org.cnn4j.tensor.Shape input) {
        if (resize == 0) return info;
        DataOptions.checkResize(resize, info.preprocessing());
        try {
            return info.with(new org.cnn4j.data.Preprocessing(input, resize), info.augmentation());
        } catch (IllegalArgumentException e) {
            throw new Checks.BadOption("--resize " + resize + ": " + e.getMessage());
        }
    }
}
