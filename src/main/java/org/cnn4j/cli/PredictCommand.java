package org.cnn4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.Images;
import org.cnn4j.io.ModelFile;
import org.cnn4j.layer.Pass;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "predict", mixinStandardHelpOptions = true,
        description = {"Classifies PNG or JPEG images with a model file: prints each image's most likely classes and",
                "their probabilities. Images are converted to the model's channels and scaled to its input size."})
final class PredictCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A model or checkpoint file.")
    Path model;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "IMAGE", description = "PNG or JPEG files.")
    List<Path> images;

    @Option(names = "--top", defaultValue = "1", description = "How many classes to print per image (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--invert", description = "Invert the images first (Fashion-MNIST and MNIST are light objects on black).")
    boolean invert;

    @Option(names = "--max-pixels", defaultValue = "89478485",
            description = "Largest image, in pixels: a file whose header claims more is refused before decoding (default: ${DEFAULT-VALUE}).")
    long maxPixels;

    @Mixin
    DeviceOptions device;

    @Option(names = "--fold-batch-norm", description = "Fold each batch normalisation into the convolution or dense layer before it "
            + "first (the same outputs to float rounding, one pass less per normalisation).")
    boolean fold;

    /** The most images one command classifies (they go through the model as one batch). */
    static final int MAX_IMAGES = 4096;

    @Override
    public Integer call() throws Exception {
        Checks.range("--top", top, 1, 1_000_000);
        Checks.range("the number of images", images.size(), 1, MAX_IMAGES);
        Checks.range("--max-pixels", maxPixels, 1, 1L << 32);
        device.check();
        try (Backend backend = device.open()) {
            ModelFile.Loaded loaded = ModelFile.load(model, backend);
            try (Model m = ModelSource.folded(loaded.model(), fold)) {
                Checks.fitsInMemory("the number of images", images.size(), m, backend, 1);
                List<String> names = loaded.data().classNames();
                float[] x = Images.load(images, m.inputShape(), invert, loaded.data(), maxPixels);
                Tensor input = backend.upload(m.inputShape().batch(images.size()), x);
                float[] out = m.forward(input, Pass.INFERENCE).toFloatArray();
                input.close();
                int k = m.outputShape().size();
                boolean logits = m.lossFunction() instanceof SoftmaxCrossEntropy;
                for (int i = 0; i < images.size(); i++) {
                    double[] p = scores(out, i * k, k, logits);
                    StringBuilder line = new StringBuilder(images.get(i) + ":");
                    for (int c : ranking(p, Math.min(top, k))) {
                        line.append(String.format(Locale.ROOT, "  %s (%s %.4f)", names.get(c), logits ? "probability" : "score", p[c]));
                    }
                    System.out.println(line);
                }
            }
        }
        return 0;
    }

    /** Softmax of the logits when the model was trained with cross-entropy, else the outputs as they are. */
    private static double[] scores(float[] out, int from, int k, boolean logits) {
        double[] p = new double[k];
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int c = 0; c < k; c++) max = Math.max(max, out[from + c]);
        for (int c = 0; c < k; c++) {
            p[c] = logits ? Math.exp(out[from + c] - max) : out[from + c];
            sum += p[c];
        }
        if (logits) for (int c = 0; c < k; c++) p[c] /= sum;
        return p;
    }

    private static int[] ranking(double[] p, int n) {
        return java.util.stream.IntStream.range(0, p.length).boxed().sorted((a, b) -> Double.compare(p[b], p[a]))
                .limit(n).mapToInt(Integer::intValue).toArray();
    }
}
