package org.cnn4j.model;

import java.util.List;
import java.util.Locale;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.loss.Loss;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * A trainable model bound to one backend: named nodes in topological order, each a layer taking
 * the outputs of earlier nodes (or the model's input, {@value #INPUT}), and a loss on the last
 * node's output. What the trainer, the captured training step ({@link GraphedStep}), model files,
 * the gradient checker, the summary and the benchmarks work with; {@link Graph} is the
 * implementation, and {@link Sequential#builder()} builds the chains among them.
 *
 * <p>Backward runs the nodes in reverse order; where one output feeds several nodes, the
 * gradients they pass back add up (see {@link Backend}). Parameter gradients accumulate until
 * {@link #zeroGradients()}.
 */
public interface Model extends AutoCloseable {
    /** The name by which nodes take the model's input. */
    String INPUT = "input";

    // ---------------------------------------------------------------- passes

    /** The output of the last node for a batch x of shape (n, input shape…). */
    Tensor forward(Tensor x, Pass pass);

    /**
     * The objective of the last forward pass: the loss against target (mean over the batch) plus
     * every layer's penalty. With {@code computeGradient}, prepares {@link #backward()}.
     */
    double loss(Tensor output, Tensor target, boolean computeGradient);

    /**
     * Like {@link #loss}, but nothing is read back: each sample's loss of the last forward pass
     * (and, when asked, its gradient for {@link #backward()}), and the batch's mean loss and correct
     * count appended to a step log on the backend ({@link Backend#recordStep}), so that a captured
     * step can replay it. Returns the layers' penalties, which the log leaves out.
     */
    double record(Tensor output, Tensor target, boolean computeGradient, Tensor log, Tensor logCursor);

    /**
     * Back-propagates the gradient of the last {@link #loss} through every layer, adding into the
     * parameter gradients. Returns ∂E/∂x for the input when {@link #computeInputGradient} is on, else null.
     */
    Tensor backward();

    /** Sets every parameter gradient to zero. */
    void zeroGradients();

    /**
     * One training step: zero the gradients, forward in training mode, loss, backward, and the
     * optimizer's update. Returns the loss, and the number of correct predictions when the target
     * holds class labels; both are counted on the backend ({@link Backend#recordStep}) and read
     * back with one copy once the step has been issued.
     */
    StepResult trainStep(Tensor x, Tensor target, Optimizer optimizer);

    /** Loss and correct count on a batch in inference mode, without touching gradients. */
    StepResult evaluate(Tensor x, Tensor target);

    /** The predicted class (largest output) of each sample, in inference mode. */
    int[] predict(Tensor x);

    /** Whether {@link #backward()} also computes the gradient with respect to the model input (off by default: it costs a pass). */
    void computeInputGradient(boolean on);

    boolean computesInputGradient();

    // ---------------------------------------------------------------- what it is

    Backend backend();

    /** Per-sample input shape, e.g. (1, 28, 28). */
    Shape inputShape();

    /** Per-sample output shape of the last node. */
    Shape outputShape();

    /** The nodes' layers, in order; a layer's name is its node's. */
    List<Layer> layers();

    /** The names of node i's inputs (earlier nodes, or {@value #INPUT}). */
    List<String> inputsOf(int i);

    /** How many nodes take node {@code name}'s output (an input listed twice by one node counts once). */
    int consumersOf(String name);

    /** Whether node i takes the node before it (the model input for the first) and nothing else, as in a chain. */
    default boolean isChained(int i) {
        return inputsOf(i).equals(List.of(i == 0 ? INPUT : layers().get(i - 1).name()));
    }

    Loss lossFunction();

    /** The seed the parameters were initialised from (and dropout draws from). */
    long seed();

    /** Training steps taken. */
    long step();

    /** Sets the count of training steps taken: when resuming from a checkpoint, or after a step taken outside {@link #trainStep}. */
    void resumeAt(long step);

    /** Every trainable parameter, layer by layer. */
    List<Parameter> parameters();

    /** Every tensor of non-trainable state (running statistics, batch counts), layer by layer. */
    List<Layer.State> state();

    /** The batch normalisations folded into the layers before them ({@link Folding}), as "bn1 into conv1"; empty for most models. */
    List<String> foldings();

    /** A table of the nodes: inputs, output shapes, parameters and cost. */
    default Summary summary() {
        return Summary.of(this);
    }

    /**
     * The same architecture on another backend with a copy of this model's parameter values and
     * state (for instance to check gradients in double precision, or to compare CPU and GPU from
     * the same weights).
     */
    Model copyTo(Backend other);

    /** Frees the parameters and buffers this model holds on its backend (the backend itself is the caller's). */
    @Override
    void close();

    /** The result of a training or evaluation step. {@code correct} is −1 when the target is not class labels. */
    record StepResult(double loss, int correct, int samples) {
        public double accuracy() {
            return correct < 0 ? Double.NaN : (double) correct / samples;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "loss %.4f%s", loss, correct < 0 ? "" : String.format(Locale.ROOT, ", accuracy %.4f", accuracy()));
        }
    }
}
