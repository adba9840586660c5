package org.cnn4j.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.Fusion;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.loss.Loss;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * A stack of layers with a loss, bound to one backend. Built with {@link #builder()}, which infers
 * every layer's shapes from the input shape and fails early, naming the layer and both shapes,
 * when they do not fit. Parameters are initialised from the builder's seed, so the same seed gives
 * the same model. No global state: several models may live side by side.
 *
 * <pre>{@code
 * Sequential model = Sequential.builder().input(1, 28, 28)
 *         .add(new Conv2d(1, 32, 3)).add(new ReLU()).add(new MaxPool2d(2))
 *         .add(new Flatten()).add(new Dense(32 * 13 * 13, 10))
 *         .loss(new SoftmaxCrossEntropy()).seed(42)
 *         .build(new CpuBackend());
 * }</pre>
 */
public final class Sequential implements AutoCloseable {
    private final Backend backend;
    private final Shape inputShape;
    private final List<Layer> layers;
    private final Loss loss;
    private final long seed;
    private long step;
    private Tensor predictions, stepLog, cursor;
    private boolean inputGradient;

    private Sequential(Backend backend, Shape inputShape, List<Layer> layers, Loss loss, long seed) {
        this.backend = backend;
        this.inputShape = inputShape;
        this.layers = List.copyOf(layers);
        this.loss = loss;
        this.seed = seed;
        computeInputGradient(false);
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- passes

    /** The output of the last layer for a batch x of shape (n, input shape…). */
    public Tensor forward(Tensor x, Pass pass) {
        if (x.shape().rank() != inputShape.rank() + 1 || !x.shape().sample().equals(inputShape)) {
            throw new IllegalArgumentException("model input must have shape (n, " + inputShape.toString().substring(1)
                    + ", got " + x.shape());
        }
        Tensor y = x;
        for (Layer layer : layers) y = layer.forward(y, pass);
        return y;
    }

    /**
     * The objective of the last forward pass: the loss against target (mean over the batch) plus
     * every layer's penalty. With {@code computeGradient}, prepares {@link #backward()}.
     */
    public double loss(Tensor output, Tensor target, boolean computeGradient) {
        return loss.forward(output, target, computeGradient) + penalty();
    }

    /** Σ of the layers' penalties: the part of the objective computed on the host (0 for most models). */
    private double penalty() {
        double value = 0;
        for (Layer layer : layers) value += layer.penalty();
        return value;
    }

    /**
     * Back-propagates the gradient of the last {@link #loss} through every layer, adding into the
     * parameter gradients. Returns ∂E/∂x for the input when {@link #computeInputGradient} is on, else null.
     */
    public Tensor backward() {
        Tensor d = loss.gradient();
        for (int i = layers.size() - 1; i >= 0 && d != null; i--) {
            Layer layer = layers.get(i);
            d = layer.backward(d.reshape(layer.outputShape().batch(d.shape().rows())));
        }
        return d;
    }

    /** Sets every parameter gradient to zero. */
    public void zeroGradients() {
        backend.fill(parameters().stream().map(Parameter::gradient).toList(), 0);
    }

    /**
     * One training step: zero the gradients, forward in training mode, loss, backward, and the
     * optimizer's update. Returns the loss, and the number of correct predictions when the target
     * holds class labels; both are counted on the backend ({@link Backend#recordStep}) and read
     * back with one copy once the step has been issued.
     */
    public StepResult trainStep(Tensor x, Tensor target, Optimizer optimizer) {
        zeroGradients();
        Tensor output = forward(x, Pass.training(step));
        double penalty = record(output, target, true);
        backward();
        optimizer.step(parameters());
        step++;
        return readRecord(penalty, x.shape().rows());
    }

    /** Loss and correct count on a batch in inference mode, without touching gradients. */
    public StepResult evaluate(Tensor x, Tensor target) {
        Tensor output = forward(x, Pass.INFERENCE);
        double penalty = record(output, target, false);
        return readRecord(penalty, x.shape().rows());
    }

    /** The predicted class (largest output) of each sample, in inference mode. */
    public int[] predict(Tensor x) {
        Tensor output = forward(x, Pass.INFERENCE);
        int n = output.shape().rows();
        Tensor classes = predictionBuffer(n);
        backend.argmax(classes, output.reshape(Shape.of(n, output.shape().columns())));
        return classes.toIntArray();
    }

    /** {@link #record(Tensor, Tensor, boolean, Tensor, Tensor)} into a one-row step log of the model's own. */
    private double record(Tensor output, Tensor target, boolean computeGradient) {
        if (stepLog == null) {
            stepLog = backend.allocate(Shape.of(1, 2));
            cursor = backend.allocateInts(Shape.of(1));
        }
        backend.writeInts(cursor, new int[1]);
        return record(output, target, computeGradient, stepLog, cursor);
    }

    /**
     * Each sample's loss of the last forward pass (and, when asked, its gradient for
     * {@link #backward()}), and the batch's mean loss and correct count appended to a step log
     * ({@link Backend#recordStep}); returns the layers' penalties, which the log leaves out.
     */
    double record(Tensor output, Tensor target, boolean computeGradient, Tensor log, Tensor logCursor) {
        Tensor losses = loss.perSample(output, target, computeGradient);
        int n = output.shape().rows();
        backend.recordStep(log, logCursor, losses, output.reshape(Shape.of(n, output.shape().size() / n)),
                target.dtype() == DType.INT32 ? target : null);
        return penalty();
    }

    private StepResult readRecord(double penalty, int samples) {
        float[] logged = backend.downloadFloats(stepLog);
        return new StepResult(logged[0] + penalty, (int) logged[1], samples);
    }

    private Tensor predictionBuffer(int n) {
        if (predictions == null || predictions.shape().rows() != n) predictions = backend.allocateInts(Shape.of(n));
        return predictions;
    }

    /** Whether {@link #backward()} also computes the gradient with respect to the model input (off by default: it costs a pass). */
    public void computeInputGradient(boolean on) {
        this.inputGradient = on;
        if (!layers.isEmpty()) layers.get(0).computeInputGradient(on);
    }

    public boolean computesInputGradient() {
        return inputGradient;
    }

    // ---------------------------------------------------------------- accessors

    public Backend backend() {
        return backend;
    }

    /** Per-sample input shape, e.g. (1, 28, 28). */
    public Shape inputShape() {
        return inputShape;
    }

    /** Per-sample output shape of the last layer. */
    public Shape outputShape() {
        return layers.isEmpty() ? inputShape : layers.get(layers.size() - 1).outputShape();
    }

    public List<Layer> layers() {
        return layers;
    }

    public Loss lossFunction() {
        return loss;
    }

    public long seed() {
        return seed;
    }

    /** Training steps taken. */
    public long step() {
        return step;
    }

    /** Counts a training step taken outside {@link #trainStep} (by a {@link GraphedStep}). */
    void stepTaken() {
        step++;
    }

    /** Sets the count of training steps taken, when resuming from a checkpoint (dropout masks depend on it). */
    public void resumeAt(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        this.step = step;
    }

    /** Every trainable parameter, layer by layer. */
    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        for (Layer layer : layers) all.addAll(layer.parameters());
        return all;
    }

    public Summary summary() {
        return Summary.of(this);
    }

    /**
     * The same architecture on another backend with a copy of this model's parameter values (for
     * instance to check gradients in double precision, or to compare CPU and GPU from the same weights).
     */
    public Sequential copyTo(Backend other) {
        Builder b = builder().input(inputShape.dims()).loss(loss.copy()).seed(seed);
        for (Layer layer : layers) b.add(layer.name(), layer.copy());
        Sequential copy = b.build(other);
        List<Parameter> from = parameters(), to = copy.parameters();
        for (int i = 0; i < from.size(); i++) {
            Parameter src = from.get(i), dst = to.get(i);
            Tensor values = other.upload(src.value().shape(), src.value().toDoubleArray());
            other.copy(dst.value(), values);
            values.close();
            dst.learningRateMultiplier(src.learningRateMultiplier()).weightDecayMultiplier(src.weightDecayMultiplier());
        }
        copy.step = step;
        copy.computeInputGradient(inputGradient);
        return copy;
    }

    /** Frees the parameters and buffers this model holds on its backend (the backend itself is the caller's). */
    @Override
    public void close() {
        for (Layer layer : layers) layer.release();
        for (Tensor t : new Tensor[] {predictions, stepLog, cursor}) if (t != null) t.close();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Sequential(input " + inputShape + " on " + backend.name() + ")");
        for (Layer layer : layers) sb.append("\n  ").append(layer);
        return sb.append("\n  loss: ").append(loss.describe()).toString();
    }

    /** The result of a training or evaluation step. {@code correct} is −1 when the target is not class labels. */
    public record StepResult(double loss, int correct, int samples) {
        public double accuracy() {
            return correct < 0 ? Double.NaN : (double) correct / samples;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "loss %.4f%s", loss, correct < 0 ? "" : String.format(Locale.ROOT, ", accuracy %.4f", accuracy()));
        }
    }

    /** Collects the input shape, layers, loss and seed, then binds them to a backend. */
    public static final class Builder {
        private Shape inputShape;
        private final List<Layer> layers = new ArrayList<>();
        private final List<String> names = new ArrayList<>();
        private Loss loss;
        private long seed = 0;
        /** -Dcnn4j.fuse=false turns fusion off by default (to measure what it brings). */
        private boolean fuse = !"false".equals(System.getProperty("cnn4j.fuse"));
        private boolean initialise = true;

        private Builder() {
        }

        /** Per-sample input shape, e.g. input(1, 28, 28) for MNIST images. */
        public Builder input(int... dims) {
            this.inputShape = Shape.of(dims);
            return this;
        }

        public Builder add(Layer layer) {
            return add(null, layer);
        }

        /** Adds a layer under a name of your choice (by default: its kind and position, e.g. "conv2d_0"). */
        public Builder add(String name, Layer layer) {
            layers.add(layer);
            names.add(name);
            return this;
        }

        public Builder loss(Loss loss) {
            this.loss = loss;
            return this;
        }

        /** Seed for parameter initialisation and dropout (default 0). */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Whether each convolution takes over the activation layer after it ({@link Fusion}; on by
         * default): the same results with a pass less each way and a tensor less per pair.
         */
        public Builder fuseActivations(boolean on) {
            this.fuse = on;
            return this;
        }

        /**
         * Whether {@link #build} draws the initial parameters from the seed (the default); without,
         * they are only allocated, for a caller that writes every value next (a model file's loader).
         */
        public Builder initialise(boolean on) {
            this.initialise = on;
            return this;
        }

        /**
         * The model {@link #build} would make, as shapes: each layer's per-sample output and every
         * parameter's shape by name, checked as {@code build} checks them but without a backend,
         * allocating or initialising nothing. The layers stay unbound.
         */
        public Plan plan() {
            requireComplete();
            Shape shape = inputShape;
            List<String> layerNames = new ArrayList<>();
            List<Shape> outputs = new ArrayList<>();
            Map<String, Shape> parameters = new LinkedHashMap<>();
            Set<String> used = new HashSet<>();
            for (int i = 0; i < layers.size(); i++) {
                String name = name(i, used);
                Layer layer = layers.get(i);
                Shape input = shape;
                Layer.Plan p = naming(name, layer, () -> layer.plan(name, input));
                layerNames.add(name);
                shape = p.output();
                outputs.add(shape);
                parameters.putAll(p.parameters());
            }
            return new Plan(inputShape, List.copyOf(layerNames), List.copyOf(outputs), Collections.unmodifiableMap(parameters));
        }

        public Sequential build(Backend backend) {
            requireComplete();
            Shape shape = inputShape;
            Set<String> used = new HashSet<>();
            int bound = 0;
            try {
                for (Layer layer : layers) {
                    String name = name(bound, used);
                    Shape input = shape;
                    long layerSeed = seed * 1_000_003L + bound;
                    shape = naming(name, layer, () -> layer.bind(name, backend, input, layerSeed, initialise));
                    bound++;
                }
                loss.bind(backend, shape);
                if (fuse) Fusion.fuse(layers);
            } catch (RuntimeException e) {
                // Unbind what was bound, so that the same layers can go into a corrected model.
                for (int i = 0; i < bound; i++) layers.get(i).release();
                throw e;
            }
            return new Sequential(backend, inputShape, layers, loss, seed);
        }

        private void requireComplete() {
            if (inputShape == null) throw new IllegalStateException("model has no input shape: call input(c, h, w) first");
            if (loss == null) throw new IllegalStateException("model has no loss: call loss(...) first");
        }

        /** Runs a layer's plan or bind; a shape error that does not say which layer gets the layer's name and kind in front. */
        private static <T> T naming(String name, Layer layer, java.util.function.Supplier<T> step) {
            try {
                return step.get();
            } catch (IllegalArgumentException e) {
                if (e.getMessage() != null && e.getMessage().contains("'" + name + "'")) throw e;
                throw new IllegalArgumentException("layer '" + name + "' (" + layer.describe() + "): " + e.getMessage(), e);
            }
        }

        /** Layer i's name: the one given, or its kind and position (e.g. "conv2d_0"); each name once. */
        private String name(int i, Set<String> used) {
            String name = names.get(i) != null ? names.get(i) : layers.get(i).getClass().getSimpleName().toLowerCase(Locale.ROOT) + "_" + i;
            if (!used.add(name)) throw new IllegalArgumentException("two layers are named '" + name + "'");
            return name;
        }
    }

    /** A model's shapes before it is built: see {@link Builder#plan()}. */
    public record Plan(Shape input, List<String> layerNames, List<Shape> layerOutputs, Map<String, Shape> parameters) {
        /** The per-sample output of the last layer (the input when there are no layers). */
        public Shape output() {
            return layerOutputs.isEmpty() ? input : layerOutputs.get(layerOutputs.size() - 1);
        }
    }
}
