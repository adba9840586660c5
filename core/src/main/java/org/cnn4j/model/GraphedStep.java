package org.cnn4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.Check;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A classifier's training step for batches of one size, with its results kept on the backend so
 * that consecutive steps never wait for the host, and which a GPU records once as a CUDA graph and
 * then replays with a single launch ({@link Backend#capture}): the fastest way to run a small step,
 * whose kernels are otherwise each too short to hide the cost of launching them.
 *
 * <p>Each {@link #run} writes the batch into this step's own input tensors, has the optimizer
 * write the step's rates ({@link Optimizer#prepare}), then either replays the graph or runs the
 * work: zero the gradients, forward, each sample's loss, the step's mean loss and correct count
 * appended to a log on the backend ({@link Backend#recordStep}), backward, and the optimizer's
 * update kernels ({@link Optimizer#apply}). The first run is eager: it allocates what the step
 * needs and lets cuDNN choose its algorithms. The next is recorded. A graph goes stale when device
 * memory is allocated or freed between two runs (another batch size, an evaluation); the step then
 * runs eagerly once more and is recorded again. (A recording that meets an allocation is likewise
 * dropped for an eager run; any other refusal, logged once, leaves the step eager for good.) Where there are no graphs (the CPU), or where the
 * work changes from step to step (dropout), every run is eager, through the same code.
 *
 * <p>{@link #results} reads the log back, one copy for up to {@code window} steps; {@link #run}
 * reads it by itself when it is full. Labels are checked on the host before they are written,
 * since a replayed step cannot stop to report one.
 */
public final class GraphedStep implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GraphedStep.class);

    private final Model model;
    private final Optimizer optimizer;
    private final Backend backend;
    private final List<Parameter> parameters;
    private final int batchSize, window, classes;
    private final Tensor x, labels, stepLog, cursor;
    private final double[] penalties;
    private final boolean sameWorkEveryStep;
    private final Function<Runnable, Backend.Graph> recorder;
    private final List<Model.StepResult> read = new ArrayList<>();
    private Backend.Graph graph;
    private int pending;
    private long replays;
    private boolean warm, graphsOff;

    /**
     * A step of {@code model} and {@code optimizer} for batches of {@code batchSize} samples with
     * INT32 class labels, reading its log back at least every {@code window} steps.
     */
    public GraphedStep(Model model, Optimizer optimizer, int batchSize, int window) {
        this(model, optimizer, batchSize, window, model.backend()::capture);
    }

    /** With another way to record the work than the backend's (tests use pretend graphs on the CPU). */
    GraphedStep(Model model, Optimizer optimizer, int batchSize, int window, Function<Runnable, Backend.Graph> recorder) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (window < 1) throw new IllegalArgumentException("window must be >= 1 step, got " + window);
        this.model = model;
        this.optimizer = optimizer;
        this.backend = model.backend();
        this.parameters = model.parameters();
        this.batchSize = batchSize;
        this.window = window;
        this.classes = model.outputShape().size();
        this.x = backend.allocate(model.inputShape().batch(batchSize));
        this.labels = backend.allocateInts(Shape.of(batchSize));
        this.stepLog = backend.allocate(Shape.of(window, 2));
        this.cursor = backend.allocateInts(Shape.of(1));
        this.penalties = new double[window];
        this.sameWorkEveryStep = model.layers().stream().allMatch(Layer::sameWorkEveryStep);
        this.recorder = recorder;
    }

    /** The input tensor the next {@link #run()} reads: (batch size, input shape…). */
    public Tensor input() {
        return x;
    }

    /** The INT32 labels (batch size) the next {@link #run()} reads. */
    public Tensor labels() {
        return labels;
    }

    /** Writes a batch (pixels in NCHW order, labels in [0, classes)) and runs one step on it. */
    public void run(float[] pixels, int[] classLabels) {
        if (pixels.length != x.size()) {
            throw new IllegalArgumentException("a batch of " + batchSize + " samples of " + model.inputShape() + " has " + x.size()
                    + " values, got " + pixels.length);
        }
        if (classLabels.length != batchSize) {
            throw new IllegalArgumentException("a batch of " + batchSize + " samples needs " + batchSize + " labels, got " + classLabels.length);
        }
        Check.labels("training step", classLabels, 0, batchSize, classes);
        backend.write(x, pixels);
        backend.writeInts(labels, classLabels);
        run();
    }

    /** Runs one step on what {@link #input()} and {@link #labels()} hold now. */
    public void run() {
        if (pending == window) drain();
        optimizer.prepare(parameters);
        if (!replayed() && !recordedAndReplayed()) {
            penalties[pending] = work();
            warm = true;
        }
        model.resumeAt(model.step() + 1);
        pending++;
    }

    private boolean replayed() {
        if (graph == null) return false;
        if (graph.replay()) {
            replays++;
            return true;
        }
        graph.close(); // stale: memory changed hands since the recording
        graph = null;
        warm = false;
        return false;
    }

    private boolean recordedAndReplayed() {
        if (!warm || graphsOff || !sameWorkEveryStep) return false;
        try {
            graph = recorder.apply(this::work);
        } catch (Backend.MemoryChangedWhileRecording e) {
            warm = false; // another step moved the tensors since this one last ran: run eagerly, record next time
            log.debug("not recorded yet: {}", e.getMessage());
            return false;
        } catch (IllegalStateException e) {
            graphsOff = true;
            log.warn("the training step runs without a graph: {}", e.getMessage());
            return false;
        }
        if (graph == null) {
            graphsOff = true; // a backend without graphs
            return false;
        }
        log.debug("recorded the training step for batches of {} as a graph on {}", batchSize, backend.name());
        return replayed();
    }

    /** The step's backend work; returns the layers' penalties (host numbers, right only when run eagerly). */
    private double work() {
        model.zeroGradients();
        Tensor output = model.forward(x, Pass.training(model.step()));
        double penalty = model.record(output, labels, true, stepLog, cursor);
        model.backward(); // with data parallelism through the host, the step cannot be recorded and runs eagerly
        optimizer.apply(parameters);
        return penalty;
    }

    /** Whether a recorded graph is in use (the last run replayed it, and the next will unless memory changes). */
    public boolean graphed() {
        return graph != null;
    }

    /** Runs so far that replayed a graph rather than issuing the work one operation at a time. */
    public long replays() {
        return replays;
    }

    /** Steps run whose results have not been read back yet. */
    public int pending() {
        return pending;
    }

    /**
     * The loss (the batch mean plus the layers' penalties) and correct count of every step run
     * since the last call, in order; reads the log back (waiting for those steps to finish).
     */
    public List<Model.StepResult> results() {
        drain();
        List<Model.StepResult> out = List.copyOf(read);
        read.clear();
        return out;
    }

    private void drain() {
        if (pending == 0) return;
        float[] values = backend.downloadFloats(stepLog);
        int logged = backend.downloadInts(cursor)[0];
        if (logged != pending) throw new IllegalStateException("the step log holds " + logged + " steps, " + pending + " were run");
        for (int i = 0; i < pending; i++) {
            read.add(new Model.StepResult(values[2 * i] + penalties[i], (int) values[2 * i + 1], batchSize));
        }
        backend.writeInts(cursor, new int[1]);
        Arrays.fill(penalties, 0);
        pending = 0;
    }

    /** Frees the graph and this step's tensors (not the model's). Unread results are lost. */
    @Override
    public void close() {
        if (graph != null) graph.close();
        graph = null;
        for (Tensor t : List.of(x, labels, stepLog, cursor)) t.close();
    }
}
