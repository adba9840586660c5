package org.cnn4j.layer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Backend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * One step of a network. A layer is configured when constructed, then bound once to a backend
 * and an input shape by the model builder, which creates its parameters. After that it runs
 * forward and backward passes on batches of any size.
 *
 * <p><b>Accumulation rule.</b> {@link #backward} adds into the parameter gradients (so several
 * passes may accumulate before a step) and returns a freshly overwritten input gradient dx.
 *
 * <p><b>Ownership.</b> The tensors that forward and backward return belong to the layer and stay
 * valid until its next pass of the same kind. A backward pass uses what the last forward pass saw.
 */
public abstract class Layer {
    private String name;
    private Backend backend;
    private Shape inputShape;
    private List<Shape> inputShapes;
    private Shape outputShape;
    private long seed;
    private double learningRateMultiplier = 1;
    private double weightDecayMultiplier = 1;
    private boolean computeInputGradient = true;
    private boolean initialise = true;
    private Map<String, Shape> planned;
    private final List<Parameter> parameters = new ArrayList<>();
    private final List<State> state = new ArrayList<>();
    private Map<String, Shape> plannedState;
    private final Map<String, Tensor> buffers = new HashMap<>();
    private Shape lastOutput;

    // ---------------------------------------------------------------- configuration

    /** The learning-rate multiplier of this layer's parameters (Bouvrie's per-weight rates, per layer). */
    public Layer learningRateMultiplier(double multiplier) {
        requireUnbound("learningRateMultiplier");
        this.learningRateMultiplier = Parameter.requireNonNegative("learning-rate multiplier", multiplier);
        return this;
    }

    /** The weight-decay multiplier of this layer's parameters (0 exempts them from decay). */
    public Layer weightDecayMultiplier(double multiplier) {
        requireUnbound("weightDecayMultiplier");
        this.weightDecayMultiplier = Parameter.requireNonNegative("weight-decay multiplier", multiplier);
        return this;
    }

    protected final void requireUnbound(String setting) {
        if (backend != null) {
            throw new IllegalStateException("layer '" + name + "' is already part of a model; set " + setting + " before building");
        }
    }

    /** A new, unbound layer with this one's configuration (not its parameters). */
    public Layer copy() {
        return config().toLayer();
    }

    /**
     * This layer's configuration: its kind, its settings and its multipliers, as plain values. A
     * model file stores it, and {@link LayerConfig#toLayer()} rebuilds the layer from it.
     */
    public final LayerConfig config() {
        Map<String, Object> s = new LinkedHashMap<>();
        settings(s);
        if (learningRateMultiplier != 1) s.put(LayerConfig.LEARNING_RATE_MULTIPLIER, learningRateMultiplier);
        if (weightDecayMultiplier != 1) s.put(LayerConfig.WEIGHT_DECAY_MULTIPLIER, weightDecayMultiplier);
        return new LayerConfig(getClass().getSimpleName(), s);
    }

    /** Puts the constructor arguments and settings {@link LayerConfig#toLayer()} needs; none by default. */
    protected void settings(Map<String, Object> s) {
    }

    /** The configuration in a few words, e.g. "Conv2d 1→32 3×3". */
    public abstract String describe();

    // ---------------------------------------------------------------- binding

    /**
     * Binds this layer into a model: checks the per-sample input shape, creates the parameters on
     * the backend from {@code seed}, and returns the per-sample output shape. Called once, by the
     * model builder.
     */
    public final Shape bind(String name, Backend backend, Shape inputShape, long seed) {
        return bind(name, backend, inputShape, seed, true);
    }

    /**
     * {@link #bind(String, Backend, Shape, long)}, optionally without initialising the parameters:
     * with {@code initialise} false they are allocated but not drawn, for a caller that writes
     * every value next (a model loaded from a file).
     */
    public final Shape bind(String name, Backend backend, Shape inputShape, long seed, boolean initialise) {
        return bind(name, backend, List.of(inputShape), seed, initialise);
    }

    /** Binds a layer to the per-sample shapes of its inputs: one, or two and more for a {@link Merge}. */
    public final Shape bind(String name, Backend backend, List<Shape> inputShapes, long seed, boolean initialise) {
        if (this.backend != null) {
            throw new IllegalStateException("layer '" + this.name + "' (" + describe() + ") is already part of a model;"
                    + " use copy() to add the same configuration twice");
        }
        this.name = name;
        this.backend = backend;
        this.inputShape = inputShapes.get(0);
        this.inputShapes = List.copyOf(inputShapes);
        this.seed = seed;
        this.initialise = initialise;
        try {
            this.outputShape = build(inputShapes, new Random(seed));
        } catch (RuntimeException e) {
            release(); // left unbound, so the same layer can go into a corrected model
            throw e;
        }
        return outputShape;
    }

    /** What a layer would be at an input shape: its per-sample output shape, and its parameters' and state's shapes by full name. */
    public record Plan(Shape output, Map<String, Shape> parameters, Map<String, Shape> state) {
    }

    /**
     * A tensor of non-trainable state (a batch normalisation's running statistics): saved in model
     * files beside the parameters under its name (PyTorch's {@code state_dict} names, e.g.
     * {@code bn1.running_mean}), copied with the model, never touched by an optimizer.
     */
    public record State(String name, Tensor value) {
    }

    /**
     * The output and parameter shapes this layer would have under {@code name} at a per-sample
     * input shape, checked as {@link #bind} checks them, without a backend and without allocating
     * or initialising anything: how a model file's architecture is checked against the tensors the
     * file holds before anything is built. The layer stays unbound.
     */
    public final Plan plan(String name, Shape inputShape) {
        return plan(name, List.of(inputShape));
    }

    /** {@link #plan(String, Shape)} for the shapes of all of this layer's inputs. */
    public final Plan plan(String name, List<Shape> inputShapes) {
        if (backend != null) throw new IllegalStateException("layer '" + this.name + "' is already part of a model; only an unbound layer is planned");
        Map<String, Shape> shapes = new LinkedHashMap<>(), stateShapes = new LinkedHashMap<>();
        this.name = name;
        this.planned = shapes;
        this.plannedState = stateShapes;
        try {
            Shape output = build(inputShapes, new Random(0));
            return new Plan(output, Collections.unmodifiableMap(shapes), Collections.unmodifiableMap(stateShapes));
        } finally {
            this.name = null;
            this.planned = null;
            this.plannedState = null;
        }
    }

    /** Checks the per-sample input shape, creates parameters and returns the per-sample output shape. */
    protected abstract Shape build(Shape input, Random rng);

    /** The shapes of all inputs: one for this layer (a {@link Merge} takes several). */
    Shape build(List<Shape> inputs, Random rng) {
        if (inputs.size() != 1) throw new IllegalArgumentException("takes one input, got " + inputs.size());
        return build(inputs.get(0), rng);
    }

    /**
     * Creates a parameter, with a zero gradient, from its initial values (drawn only when the layer
     * is bound with initialisation). While the layer is only being {@linkplain #plan planned}, notes
     * the shape and returns null.
     */
    protected final Parameter parameter(String suffix, Shape shape, Supplier<double[]> init) {
        if (planned != null) {
            planned.put(name + "." + suffix, shape);
            return null;
        }
        Parameter p = new Parameter(name + "." + suffix,
                allocating(suffix, shape, () -> initialise ? backend.upload(shape, init.get()) : backend.allocate(shape)),
                allocating(suffix + " gradient", shape, () -> backend.allocate(shape)), learningRateMultiplier, weightDecayMultiplier,
                this instanceof BatchNorm);
        parameters.add(p);
        return p;
    }

    /**
     * Creates a tensor of {@link State} with its initial values (written even when the layer is
     * bound without initialisation, since they are fixed, not drawn). While the layer is only being
     * {@linkplain #plan planned}, notes the shape and returns null.
     */
    protected final Tensor state(String suffix, Shape shape, double[] init) {
        if (plannedState != null) {
            plannedState.put(name + "." + suffix, shape);
            return null;
        }
        Tensor t = allocating(suffix, shape, () -> backend.upload(shape, init));
        state.add(new State(name + "." + suffix, t));
        return t;
    }

    /** This layer's non-trainable state tensors, in order. */
    public final List<State> state() {
        return List.copyOf(state);
    }

    /** A layer-owned tensor, reused while its shape stays the same (typically until the batch size changes). */
    protected final Tensor buffer(String key, Shape shape) {
        return reuse(key, shape, false);
    }

    /**
     * dy ∘ f'(y) in this layer's buffer "dz": the backward pass of an activation this layer took over
     * (see {@link Fusion}), with f' from its output y alone; with db (else null), also the layer's
     * bias gradient, db += Σ dz per channel, in the same operation.
     */
    protected final Tensor throughActivation(Activation f, Tensor dy, Tensor y, Tensor db) {
        Tensor dz = buffer("dz", dy.shape());
        backend().activationBackward(f, dz, db, dy, y, y);
        return dz;
    }

    /** Like {@link #buffer} for INT32 tensors. */
    protected final Tensor intBuffer(String key, Shape shape) {
        return reuse(key, shape, true);
    }

    private Tensor reuse(String key, Shape shape, boolean ints) {
        Tensor t = buffers.get(key);
        if (t == null || !t.shape().equals(shape)) {
            if (t != null) t.close();
            t = allocating(key, shape, () -> ints ? backend.allocateInts(shape) : backend.allocate(shape));
            buffers.put(key, t);
        }
        return t;
    }

    /** Runs an allocation; a failure (out of device memory, say) names this layer and what it was for. */
    private Tensor allocating(String what, Shape shape, Supplier<Tensor> allocation) {
        try {
            return allocation.get();
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalStateException("layer '" + name + "' (" + describe() + ") cannot allocate its " + what + " " + shape + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Frees this layer's parameters and buffers on its backend and unbinds it: it keeps its
     * configuration and may be bound into another model.
     */
    public final void release() {
        for (Tensor t : buffers.values()) t.close();
        buffers.clear();
        for (Parameter p : parameters) {
            p.value().close();
            p.gradient().close();
        }
        parameters.clear();
        for (State t : state) t.value().close();
        state.clear();
        backend = null;
        lastOutput = null;
    }

    // ---------------------------------------------------------------- passes

    /** y = layer(x) for a batch x of shape (n, input shape…). */
    public final Tensor forward(Tensor x, Pass pass) {
        requireBound();
        checkInput("", x, inputShape);
        return produced(forwardPass(x, pass));
    }

    /** Checks an input's backend and per-sample shape; {@code which} names it among several (" 1"), or is empty. */
    private void checkInput(String which, Tensor x, Shape expected) {
        if (x.backend() != backend) {
            throw new IllegalArgumentException("layer '" + name + "' runs on " + backend.name() + " but its input" + which + " "
                    + x.shape() + " lives on " + x.backend().name());
        }
        if (x.shape().rank() != expected.rank() + 1 || !x.shape().sample().equals(expected)) {
            throw new IllegalArgumentException("layer '" + name + "' (" + describe() + ") expects input" + which + " of shape "
                    + batchShape(expected) + ", got " + x.shape());
        }
    }

    /** dx, given dy = ∂E/∂y for the last forward pass; adds into the parameter gradients. Returns null when dx is not needed. */
    public final Tensor backward(Tensor dy) {
        checkGradient(dy);
        return backwardPass(dy);
    }

    /**
     * The output for a batch of each input: {@link #forward(Tensor, Pass)} for a layer of one
     * input, the merge of them all for a {@link Merge}.
     */
    public Tensor forward(List<Tensor> xs, Pass pass) {
        if (xs.size() != 1) throw new IllegalArgumentException("layer '" + name + "' (" + describe() + ") takes one input, got " + xs.size());
        return forward(xs.get(0), pass);
    }

    /**
     * The gradient of each input given dy, in input order ({@link #backward(Tensor)} for a layer of
     * one input); an entry is null where the gradient is not needed.
     */
    public List<Tensor> backwardAll(Tensor dy) {
        return Collections.singletonList(backward(dy));
    }

    /** Checks a merge's inputs as {@link #forward(Tensor, Pass)} checks one. */
    final void checkInputs(List<Tensor> xs) {
        requireBound();
        if (xs.size() != inputShapes.size()) {
            throw new IllegalArgumentException("layer '" + name + "' (" + describe() + ") takes " + inputShapes.size() + " inputs, got " + xs.size());
        }
        for (int i = 0; i < xs.size(); i++) checkInput(" " + i, xs.get(i), inputShapes.get(i));
    }

    /** Notes the shape of the output just produced, which the backward pass checks its gradient against. */
    final Tensor produced(Tensor y) {
        lastOutput = y.shape();
        return y;
    }

    /** Checks dy against the last output, as {@link #backward(Tensor)} does. */
    final void checkGradient(Tensor dy) {
        requireBound();
        if (lastOutput == null) throw new IllegalStateException("layer '" + name + "': backward before any forward pass");
        if (!dy.shape().equals(lastOutput)) {
            throw new IllegalArgumentException("layer '" + name + "' (" + describe() + ") produced " + lastOutput
                    + " but its backward pass got a gradient of shape " + dy.shape());
        }
    }

    protected abstract Tensor forwardPass(Tensor x, Pass pass);

    protected abstract Tensor backwardPass(Tensor dy);

    /** Whether backward must produce dx (the model turns it off for its first layer). */
    protected final boolean computeInputGradient() {
        return computeInputGradient;
    }

    public final void computeInputGradient(boolean on) {
        this.computeInputGradient = on;
    }

    /**
     * Whether this layer's training passes issue the same backend work at every step, so that a
     * recording of one step ({@link org.cnn4j.backend.Backend#capture}) may be replayed for the
     * next: true unless the work depends on the step number (dropout's mask does).
     */
    public boolean sameWorkEveryStep() {
        return true;
    }

    /** A regularisation term this layer adds to the loss (its gradient is added in backward); 0 for most layers. */
    public double penalty() {
        return 0;
    }

    // ---------------------------------------------------------------- accounting

    /** Multiply-accumulates per sample of the forward pass. */
    protected abstract long multiplyAccumulates();

    public final LayerCost cost() {
        requireBound();
        long params = 0;
        for (Parameter p : parameters) params += p.value().size();
        return new LayerCost(outputShape, params, multiplyAccumulates(), 4L * outputShape.size());
    }

    // ---------------------------------------------------------------- accessors

    public final String name() {
        return name;
    }

    public final Backend backend() {
        return backend;
    }

    /** Per-sample input shape (without the batch dimension); the first input's for a {@link Merge}. */
    public final Shape inputShape() {
        return inputShape;
    }

    /** Per-sample shapes of all inputs. */
    public final List<Shape> inputShapes() {
        return inputShapes;
    }

    /** Per-sample output shape (without the batch dimension). */
    public final Shape outputShape() {
        return outputShape;
    }

    /** Derives a seed for this layer's randomness at a given training step. */
    protected final long seedFor(long step) {
        return seed * 0x9E3779B97F4A7C15L + step;
    }

    public final List<Parameter> parameters() {
        return List.copyOf(parameters);
    }

    final void requireBound() {
        if (backend == null) throw new IllegalStateException(describe() + " is not part of a model yet");
    }

    /** "(n, 32, 13, 13)". */
    protected static String batchShape(Shape sample) {
        String s = sample.toString();
        return "(n, " + s.substring(1);
    }

    @Override
    public String toString() {
        return (name == null ? "" : name + ": ") + describe();
    }
}
