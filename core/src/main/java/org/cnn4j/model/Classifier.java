package org.cnn4j.model;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Images;
import org.cnn4j.io.ModelFile;
import org.cnn4j.layer.Pass;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * A trained model (a cnn4j model file or an ONNX file) for embedding in a program: images in, the
 * top classes with their names and probabilities out, each image prepared exactly as the model's training images were (its data
 * description: channels, resize and centre crop, normalisation).
 *
 * <pre>{@code
 * try (Classifier c = Classifier.load(Path.of("runs/resnet20/model.safetensors"))) {
 *     Classifier.Scored best = c.predict(Path.of("cat.jpg"), 3).getFirst();
 * }
 * }</pre>
 *
 * <p>Scores are probabilities (a softmax of the logits) for models trained with cross-entropy, the
 * outputs as they are otherwise. Safe for concurrent callers: predictions run one at a time on
 * the instance (a model's layers keep their activations between the passes of one prediction),
 * so threads that need throughput share batches ({@link #predictAll}) or hold a classifier each.
 * {@link #close()} frees the model's memory (on a GPU, its device memory).
 */
public final class Classifier implements AutoCloseable {
    /** The most images one batch of {@link #predictAll} holds. */
    public static final int BATCH = 256;

    /** A class and its score. */
    public record Scored(int index, String name, double score) {
    }

    private final Model model;
    private final DataInfo data;
    private final Backend owned;
    private final long maxPixels;
    private boolean closed;

    private Classifier(Model model, DataInfo data, Backend owned) {
        if (data.classNames().size() != model.outputShape().size()) {
            throw new IllegalArgumentException("the data description names " + data.classNames().size() + " classes but the model has "
                    + model.outputShape().size() + " outputs");
        }
        this.model = model;
        this.data = data;
        this.owned = owned;
        this.maxPixels = Images.DEFAULT_MAX_PIXELS;
    }

    /** A model file's (or an ONNX file's: its name ends in .onnx) classifier on the CPU (all cores). */
    public static Classifier load(Path file) throws IOException {
        CpuBackend cpu = new CpuBackend();
        try {
            return load(file, cpu, cpu);
        } catch (IOException | RuntimeException e) {
            cpu.close();
            throw e;
        }
    }

    /**
     * A model file's (or an ONNX file's, see {@link org.cnn4j.onnx.OnnxImport}) classifier on
     * {@code backend}, which the caller keeps and closes.
     */
    public static Classifier load(Path file, Backend backend) throws IOException {
        return load(file, backend, null);
    }

    /** The classifier of a model or ONNX file on {@code backend}, which it closes when it is {@code owned}. */
    private static Classifier load(Path file, Backend backend, Backend owned) throws IOException {
        ModelFile.Loaded loaded = org.cnn4j.onnx.OnnxImport.loadAny(file, backend);
        return new Classifier(loaded.model(), loaded.data(), owned);
    }

    /** A classifier of a model already built (it is closed with the classifier). */
    public static Classifier of(Model model, DataInfo data) {
        return new Classifier(model, data, null);
    }

    public List<String> classNames() {
        return data.classNames();
    }

    /** The {@code top} best classes of an image file, best first. */
    public List<Scored> predict(Path image, int top) throws IOException {
        return predictAll(List.of(image), top).getFirst();
    }

    /** The {@code top} best classes of an image, best first. */
    public List<Scored> predict(BufferedImage image, int top) {
        return predictInputs(Images.prepare(List.of(image), model.inputShape(), data), 1, top).getFirst();
    }

    /** The {@code top} best classes of one input already prepared: the model's input shape, normalised. */
    public List<Scored> predict(float[] input, int top) {
        Shape shape = model.inputShape();
        if (input.length != shape.size()) throw new IllegalArgumentException("an input of " + shape + " has " + shape.size() + " values, not " + input.length);
        return predictInputs(input, 1, top).getFirst();
    }

    /** The {@code top} best classes of each image file, in order, in batches of at most {@value #BATCH}. */
    public List<List<Scored>> predictAll(List<Path> images, int top) throws IOException {
        List<List<Scored>> all = new ArrayList<>();
        for (int from = 0; from < images.size(); from += BATCH) {
            List<Path> part = images.subList(from, Math.min(images.size(), from + BATCH));
            all.addAll(predictInputs(Images.load(part, model.inputShape(), false, data, maxPixels), part.size(), top));
        }
        return all;
    }

    private synchronized List<List<Scored>> predictInputs(float[] x, int n, int top) {
        if (closed) throw new IllegalStateException("the classifier is closed");
        if (top < 1) throw new IllegalArgumentException("top must be >= 1, got " + top);
        Tensor input = model.backend().upload(model.inputShape().batch(n), x);
        float[] out;
        try {
            out = model.forward(input, Pass.INFERENCE).toFloatArray();
        } finally {
            input.close();
        }
        int k = model.outputShape().size();
        boolean logits = model.lossFunction() instanceof SoftmaxCrossEntropy;
        List<List<Scored>> result = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            double[] p = scores(out, i * k, k, logits);
            List<Scored> best = new ArrayList<>();
            for (int c : ranking(p, Math.min(top, k))) best.add(new Scored(c, data.classNames().get(c), p[c]));
            result.add(best);
        }
        return result;
    }

    /** Softmax of the logits when {@code logits}, else the outputs as they are: k values from {@code from}. */
    public static double[] scores(float[] out, int from, int k, boolean logits) {
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

    /** The indices of the n largest scores, largest first. */
    public static int[] ranking(double[] p, int n) {
        return java.util.stream.IntStream.range(0, p.length).boxed().sorted((a, b) -> Double.compare(p[b], p[a]))
                .limit(n).mapToInt(Integer::intValue).toArray();
    }

    /** Frees the model (and the backend the classifier made); later predictions are refused. Closing twice does nothing more. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        model.close();
        if (owned != null) owned.close();
    }
}
