package org.cnn4j.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import org.cnn4j.backend.Backend;
import org.cnn4j.distributed.Communicator;
import org.cnn4j.distributed.GradientAverager;
import org.cnn4j.layer.Fusion;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.layer.Softmax;
import org.cnn4j.loss.Loss;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Model} of named nodes, each a layer and the names of its inputs (earlier nodes, or
 * {@value #INPUT} for the model's input), in topological order, with a loss on the last node's
 * output; bound to one backend. A chain ({@link Sequential}) is the simplest graph; a residual
 * block joins two branches with an {@link org.cnn4j.layer.Add}:
 *
 * <pre>{@code
 * Graph model = Graph.builder().input(16, 8, 8)
 *         .add("conv1", new Conv2d(16, 16, 3).padding(1), "input").add("relu1", new ReLU())
 *         .add("conv2", new Conv2d(16, 16, 3).padding(1)).add("sum", new Add(), "conv2", "input")
 *         .add("relu2", new ReLU()).add("flat", new Flatten()).add("fc", new Dense(16 * 8 * 8, 10))
 *         .loss(new SoftmaxCrossEntropy()).build(new CpuBackend());
 * }</pre>
 *
 * The builder infers every node's shapes from the input shape and fails early, naming the node
 * and the shapes, when they do not fit. Backward runs the nodes in reverse order; where one
 * output feeds several nodes, the gradients they pass back add up (in a buffer of the graph's).
 * Parameters are initialised from the builder's seed, so the same seed gives the same model. No
 * global state: several models may live side by side.
 */
public final class Graph implements Model {
    private static final Logger LOG = LoggerFactory.getLogger(Graph.class);

    private final Backend backend;
    private final Shape inputShape;
    private final List<Layer> layers;
    /** For each node, the names of its inputs. */
    private final List<List<String>> inputs;
    /** For each node, the indices of its inputs' nodes; −1 for the model's input. */
    private final int[][] from;
    private final Loss loss;
    private final long seed;
    private long step;
    /** Where data-parallel training averages the gradients over the processes, or null. */
    private GradientAverager averager;
    /** This replica's rank in data-parallel training (0 otherwise): where its batch starts in the job's. */
    private int replica;
    private Tensor predictions, stepLog, cursor;
    /** Per node (and, last, the model input), the buffer where gradients that meet are summed. */
    private final Tensor[] sums;
    private boolean inputGradient;
    private List<String> foldings = List.of();

    private Graph(Backend backend, Shape inputShape, List<Layer> layers, List<List<String>> inputs, Loss loss, long seed) {
        this.backend = backend;
        this.inputShape = inputShape;
        this.layers = List.copyOf(layers);
        this.inputs = List.copyOf(inputs);
        this.loss = loss;
        this.seed = seed;
        this.from = new int[layers.size()][];
        for (int i = 0; i < layers.size(); i++) {
            from[i] = inputs.get(i).stream().mapToInt(name -> name.equals(INPUT) ? -1 : indexOf(name)).toArray();
        }
        this.sums = new Tensor[layers.size() + 1];
        computeInputGradient(false);
    }

    private int indexOf(String name) {
        for (int i = 0; i < layers.size(); i++) if (layers.get(i).name().equals(name)) return i;
        throw new IllegalStateException("no node '" + name + "'");
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- passes

    @Override
    public Tensor forward(Tensor x, Pass pass) {
        if (x.shape().rank() != inputShape.rank() + 1 || !x.shape().sample().equals(inputShape)) {
            throw new IllegalArgumentException("model input must have shape (n, " + inputShape.toString().substring(1)
                    + ", got " + x.shape());
        }
        if (pass.training() && replica > 0) pass = pass.startingAt((long) replica * x.shape().rows());
        Tensor[] outputs = new Tensor[layers.size()];
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            int[] f = from[i];
            if (f.length == 1) {
                outputs[i] = layer.forward(f[0] < 0 ? x : outputs[f[0]], pass);
            } else {
                List<Tensor> xs = new ArrayList<>(f.length);
                for (int j : f) xs.add(j < 0 ? x : outputs[j]);
                outputs[i] = layer.forward(xs, pass);
            }
        }
        return layers.isEmpty() ? x : outputs[layers.size() - 1];
    }

    @Override
    public double loss(Tensor output, Tensor target, boolean computeGradient) {
        return loss.forward(output, target, computeGradient) + penalty();
    }

    /** Σ of the layers' penalties: the part of the objective computed on the host (0 for most models). */
    private double penalty() {
        double value = 0;
        for (Layer layer : layers) value += layer.penalty();
        return value;
    }

    @Override
    public Tensor backward() {
        int n = layers.size();
        Tensor[] gradients = new Tensor[n + 1]; // per node's output, and last the model input's
        gradients[n == 0 ? 0 : n - 1] = loss.gradient();
        if (averager != null) averager.begin();
        for (int i = n - 1; i >= 0; i--) {
            Tensor dy = gradients[i];
            if (dy == null) { // nothing after this node needs its gradient
                if (averager != null) averager.layerDone(i);
                continue;
            }
            Layer layer = layers.get(i);
            dy = dy.reshape(layer.outputShape().batch(dy.shape().rows()));
            int[] f = from[i];
            if (f.length == 1) {
                accumulate(gradients, f[0], layer.backward(dy));
            } else {
                List<Tensor> dxs = layer.backwardAll(dy);
                for (int j = 0; j < f.length; j++) accumulate(gradients, f[j], dxs.get(j));
            }
            if (averager != null) averager.layerDone(i);
        }
        if (averager != null) averager.finish();
        return inputGradient ? gradients[n] : null;
    }

    /** Adds dx into the gradient of node {@code node}'s output (−1: the model input): the first as it is, the next summed into the graph's buffer. */
    private void accumulate(Tensor[] gradients, int node, Tensor dx) {
        if (dx == null) return;
        int k = node < 0 ? layers.size() : node;
        if (gradients[k] == null) {
            gradients[k] = dx;
            return;
        }
        Shape shape = gradients[k].shape();
        if (sums[k] == null || !sums[k].shape().equals(shape)) {
            if (sums[k] != null) sums[k].close();
            sums[k] = backend.allocate(shape);
        }
        backend.add(sums[k], gradients[k], dx.reshape(shape));
        gradients[k] = sums[k];
    }

    @Override
    public void zeroGradients() {
        backend.fill(parameters().stream().map(Parameter::gradient).toList(), 0);
    }

    /**
     * Data-parallel training: from now on {@link #backward} leaves every parameter gradient
     * averaged over the processes of {@code communicator} (in buckets of the communicator's size,
     * each reduced as soon as the backward pass has finished its layers: see
     * {@link GradientAverager}), so that replicas that start from the same parameters stay equal.
     * Null stops it.
     */
    public Graph averageGradientsOver(Communicator communicator) {
        return averageGradientsOver(communicator, communicator == null ? 0 : communicator.bucketBytes());
    }

    /**
     * {@link #averageGradientsOver(Communicator)} in buckets of at least {@code bucketBytes} bytes.
     * Training passes then start at sample rank·batch of the job's batch (see {@link Pass}), so
     * that each replica draws its own dropout masks: those one process would draw for the job's
     * batch when each replica holds the rank-th slice of it.
     */
    public Graph averageGradientsOver(Communicator communicator, long bucketBytes) {
        this.averager = communicator == null ? null : new GradientAverager(communicator, layers, bucketBytes);
        this.replica = communicator == null ? 0 : communicator.rank();
        return this;
    }

    /**
     * Synchronised batch normalisation over the processes of {@code communicator} in every
     * BatchNorm layer (see {@link org.cnn4j.layer.BatchNorm#synchronisedOver}); null returns them to
     * their own batches' statistics.
     */
    public Graph synchroniseBatchNorms(Communicator communicator) {
        for (Layer layer : layers()) {
            if (layer instanceof org.cnn4j.layer.BatchNorm bn) bn.synchronisedOver(communicator);
        }
        return this;
    }

    @Override
    public StepResult trainStep(Tensor x, Tensor target, Optimizer optimizer) {
        zeroGradients();
        Tensor output = forward(x, Pass.training(step));
        double penalty = record(output, target, true);
        backward();
        optimizer.step(parameters());
        step++;
        return readRecord(penalty, x.shape().rows());
    }

    @Override
    public StepResult evaluate(Tensor x, Tensor target) {
        Tensor output = forward(x, Pass.INFERENCE);
        double penalty = record(output, target, false);
        return readRecord(penalty, x.shape().rows());
    }

    @Override
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

    @Override
    public double record(Tensor output, Tensor target, boolean computeGradient, Tensor log, Tensor logCursor) {
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

    @Override
    public void computeInputGradient(boolean on) {
        this.inputGradient = on;
        for (int i = 0; i < layers.size(); i++) if (from[i].length == 1 && from[i][0] < 0) layers.get(i).computeInputGradient(on);
    }

    @Override
    public boolean computesInputGradient() {
        return inputGradient;
    }

    // ---------------------------------------------------------------- accessors

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public Shape inputShape() {
        return inputShape;
    }

    @Override
    public Shape outputShape() {
        return layers.isEmpty() ? inputShape : layers.get(layers.size() - 1).outputShape();
    }

    @Override
    public List<Layer> layers() {
        return layers;
    }

    @Override
    public List<String> inputsOf(int i) {
        return inputs.get(i);
    }

    @Override
    public int consumersOf(String name) {
        return consumers(inputs, name);
    }

    private static int consumers(List<List<String>> inputs, String name) {
        return (int) inputs.stream().filter(in -> in.contains(name)).count();
    }

    @Override
    public Loss lossFunction() {
        return loss;
    }

    @Override
    public long seed() {
        return seed;
    }

    @Override
    public long step() {
        return step;
    }

    @Override
    public void resumeAt(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        this.step = step;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        for (Layer layer : layers) all.addAll(layer.parameters());
        return all;
    }

    @Override
    public List<String> foldings() {
        return foldings;
    }

    void foldings(List<String> notes) {
        this.foldings = List.copyOf(notes);
    }

    @Override
    public List<Layer.State> state() {
        List<Layer.State> all = new ArrayList<>();
        for (Layer layer : layers) all.addAll(layer.state());
        return all;
    }

    @Override
    public Graph copyTo(Backend other) {
        Builder b = builder().input(inputShape.dims()).loss(loss.copy()).seed(seed);
        for (int i = 0; i < layers.size(); i++) b.add(layers.get(i).name(), layers.get(i).copy(), inputs.get(i).toArray(String[]::new));
        Graph copy = b.build(other);
        List<Parameter> from = parameters(), to = copy.parameters();
        for (int i = 0; i < from.size(); i++) {
            Parameter src = from.get(i), dst = to.get(i);
            Tensor values = other.upload(src.value().shape(), src.value().toDoubleArray());
            other.copy(dst.value(), values);
            values.close();
            dst.learningRateMultiplier(src.learningRateMultiplier()).weightDecayMultiplier(src.weightDecayMultiplier());
        }
        List<Layer.State> ours = state(), theirs = copy.state();
        for (int i = 0; i < ours.size(); i++) {
            Tensor values = other.upload(ours.get(i).value().shape(), ours.get(i).value().toDoubleArray());
            other.copy(theirs.get(i).value(), values);
            values.close();
        }
        copy.step = step;
        copy.computeInputGradient(inputGradient);
        return copy;
    }

    @Override
    public void close() {
        for (Layer layer : layers) layer.release();
        for (Tensor t : new Tensor[] {predictions, stepLog, cursor}) if (t != null) t.close();
        for (Tensor t : sums) if (t != null) t.close();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Graph(input " + inputShape + " on " + backend.name() + ")");
        for (int i = 0; i < layers.size(); i++) {
            sb.append("\n  ").append(layers.get(i));
            if (!isChained(i)) sb.append("  ← ").append(String.join(", ", inputs.get(i)));
        }
        return sb.append("\n  loss: ").append(loss.describe()).toString();
    }

    @Override
    public boolean isChained(int i) {
        return from[i].length == 1 && from[i][0] == i - 1;
    }

    /** Collects the input shape, the nodes, the loss and the seed, then binds them to a backend. */
    public static final class Builder {
        private Shape inputShape;
        private final List<Layer> layers = new ArrayList<>();
        private final List<String> names = new ArrayList<>();
        /** The inputs each node was given; empty for "the node before". */
        private final List<String[]> inputs = new ArrayList<>();
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

        /** Adds a node that takes the node added before it (the model input for the first), named by its kind and position (e.g. "conv2d_0"). */
        public Builder add(Layer layer) {
            return add(null, layer);
        }

        /**
         * Adds a node under a name of your choice that takes the named inputs: nodes added before
         * it, or {@value Graph#INPUT} for the model's input; without names, the node added before.
         */
        public Builder add(String name, Layer layer, String... inputs) {
            layers.add(layer);
            names.add(name);
            this.inputs.add(inputs.clone());
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
         * The model {@link #build} would make, as shapes: each node's per-sample output and every
         * parameter's shape by name, checked as {@code build} checks them but without a backend,
         * allocating or initialising nothing. The layers stay unbound.
         */
        public Plan plan() {
            Wiring w = wiring();
            Map<String, Shape> shapes = new HashMap<>(Map.of(INPUT, inputShape));
            List<Shape> outputs = new ArrayList<>();
            Map<String, Shape> parameters = new LinkedHashMap<>(), state = new LinkedHashMap<>();
            for (int i = 0; i < layers.size(); i++) {
                String name = w.names.get(i);
                Layer layer = layers.get(i);
                List<Shape> in = w.inputs.get(i).stream().map(shapes::get).toList();
                Layer.Plan p = naming(name, layer, w.inputs.get(i), in, () -> layer.plan(name, in));
                shapes.put(name, p.output());
                outputs.add(p.output());
                parameters.putAll(p.parameters());
                state.putAll(p.state());
            }
            return new Plan(inputShape, w.names, List.copyOf(outputs), Collections.unmodifiableMap(parameters), Collections.unmodifiableMap(state));
        }

        public Graph build(Backend backend) {
            Wiring w = wiring();
            Map<String, Shape> shapes = new HashMap<>(Map.of(INPUT, inputShape));
            int bound = 0;
            try {
                for (Layer layer : layers) {
                    String name = w.names.get(bound);
                    List<Shape> in = w.inputs.get(bound).stream().map(shapes::get).toList();
                    long layerSeed = seed * 1_000_003L + bound;
                    shapes.put(name, naming(name, layer, w.inputs.get(bound), in, () -> layer.bind(name, backend, in, layerSeed, initialise)));
                    bound++;
                }
                loss.bind(backend, layers.isEmpty() ? inputShape : layers.get(layers.size() - 1).outputShape());
                String twice = softmaxTwice(layers, w.names, loss);
                if (twice != null) LOG.warn(twice);
                if (fuse) Fusion.fuse(layers, w.chained());
            } catch (RuntimeException e) {
                // Unbind what was bound, so that the same layers can go into a corrected model.
                for (int i = 0; i < bound; i++) layers.get(i).release();
                throw e;
            }
            return new Graph(backend, inputShape, layers, w.inputs, loss, seed);
        }

        /**
         * What is wrong where the last node is a Softmax and the loss a SoftmaxCrossEntropy, which
         * applies the softmax itself (a model PyTorch would also train, on the wrong objective); else null.
         */
        static String softmaxTwice(List<Layer> layers, List<String> names, Loss loss) {
            if (layers.isEmpty() || !(layers.getLast() instanceof Softmax) || !(loss instanceof SoftmaxCrossEntropy)) return null;
            return "node '" + names.getLast() + "' is a Softmax before the SoftmaxCrossEntropy loss, which applies the softmax itself:"
                    + " the model would be trained and its classes scored on softmax(softmax(x)); end the model with the logits";
        }

        /** Every node's name and inputs, resolved and checked: see {@link #wiring()}. */
        private record Wiring(List<String> names, List<List<String>> inputs) {
            /** chained[i]: node i + 1 takes node i alone and is its only consumer, so the two may be fused. */
            boolean[] chained() {
                boolean[] chained = new boolean[names.size()];
                for (int i = 0; i + 1 < names.size(); i++) {
                    String name = names.get(i);
                    chained[i] = consumers(inputs, name) == 1 && inputs.get(i + 1).equals(List.of(name));
                }
                return chained;
            }
        }

        /**
         * The nodes' names (given, or kind and position) and inputs (given, or the node before),
         * refusing a name used twice or {@value Graph#INPUT}, an input that is no earlier node
         * (a cycle, or a node that does not exist), and a node other than the last that feeds nothing.
         */
        private Wiring wiring() {
            if (inputShape == null) throw new IllegalStateException("model has no input shape: call input(c, h, w) first");
            if (loss == null) throw new IllegalStateException("model has no loss: call loss(...) first");
            List<String> resolved = new ArrayList<>();
            for (int i = 0; i < layers.size(); i++) {
                String name = names.get(i) != null ? names.get(i) : layers.get(i).getClass().getSimpleName().toLowerCase(Locale.ROOT) + "_" + i;
                if (name.equals(INPUT)) throw new IllegalArgumentException("node " + i + " cannot be named '" + INPUT + "': that name is the model's input");
                if (resolved.contains(name)) throw new IllegalArgumentException("two layers are named '" + name + "'");
                resolved.add(name);
            }
            List<List<String>> wired = new ArrayList<>();
            for (int i = 0; i < layers.size(); i++) {
                List<String> in = inputs.get(i).length > 0 ? List.of(inputs.get(i)) : List.of(i == 0 ? INPUT : resolved.get(i - 1));
                for (String x : in) {
                    int at = resolved.indexOf(x);
                    if (x.equals(INPUT) || (at >= 0 && at < i)) continue;
                    throw new IllegalArgumentException("node '" + resolved.get(i) + "' takes '" + x + "', " + (at >= i
                            ? "which is not added before it: a node takes earlier nodes only, so that the graph has no cycle"
                            : "which is no node of the model (its nodes: " + String.join(", ", resolved) + ", and '" + INPUT + "')"));
                }
                wired.add(in);
            }
            for (int i = 0; i + 1 < layers.size(); i++) {
                String name = resolved.get(i);
                if (wired.stream().noneMatch(in -> in.contains(name))) {
                    throw new IllegalArgumentException("node '" + name + "' feeds no other node; the model's output is its last node, '"
                            + resolved.get(resolved.size() - 1) + "'");
                }
            }
            return new Wiring(List.copyOf(resolved), List.copyOf(wired));
        }

        /**
         * Runs a node's plan or bind; a shape error that does not say which layer gets the layer's
         * name and kind in front, and for several inputs, their names and shapes.
         */
        private static <T> T naming(String name, Layer layer, List<String> inputNames, List<Shape> inputShapes, Supplier<T> step) {
            try {
                return step.get();
            } catch (IllegalArgumentException e) {
                if (e.getMessage() != null && e.getMessage().contains("'" + name + "'")) throw e;
                StringBuilder on = new StringBuilder();
                if (inputNames.size() > 1) {
                    for (int i = 0; i < inputNames.size(); i++) {
                        on.append(i == 0 ? " on " : ", ").append("'").append(inputNames.get(i)).append("' (n, ")
                                .append(inputShapes.get(i).toString().substring(1));
                    }
                }
                throw new IllegalArgumentException("layer '" + name + "' (" + layer.describe() + ")" + on + ": " + e.getMessage(), e);
            }
        }
    }

    /** A model's shapes before it is built: see {@link Builder#plan()}. */
    public record Plan(Shape input, List<String> layerNames, List<Shape> layerOutputs, Map<String, Shape> parameters, Map<String, Shape> state) {
        /** The per-sample output of the last node (the input when there are none). */
        public Shape output() {
            return layerOutputs.isEmpty() ? input : layerOutputs.get(layerOutputs.size() - 1);
        }
    }
}
