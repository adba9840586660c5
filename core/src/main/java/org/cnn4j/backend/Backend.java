package org.cnn4j.backend;

import java.util.List;

import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Every numeric operation that cnn4j's layers, losses and optimizers need. Layers own their
 * tensors and call these methods; they never touch the numbers themselves, so one layer runs on
 * the CPU, on the double-precision reference and on the GPU alike.
 *
 * <p>The operations come in families, each an interface of its own and, in each backend, a class
 * of its own: {@link ConvolutionOps}, {@link PoolingOps}, {@link NormalizationOps},
 * {@link FeatureMapOps} and {@link OptimizerOps}; this interface adds the core (memory, GEMM,
 * element-wise operations, losses, step records, graphs) and forwards each family's methods to the
 * backend's implementation of it ({@link #convolution()}, …). A new layer kind's operations go
 * into their family's interface and its three implementations.
 *
 * <p>Conventions, the same on every backend:
 * <ul>
 *   <li>Outputs come first in the argument list, then inputs, then sizes.</li>
 *   <li>Images are NCHW, filters KCRS, matrices row-major; a tensor used as a matrix has
 *       {@code shape.rows()} rows of {@code shape.columns()} values.</li>
 *   <li><b>Accumulation rule:</b> gradients of parameters ({@code dw, db, dbeta, dk, dc})
 *       <em>accumulate</em> (+=) so that several backward passes may add up before a step; data
 *       gradients ({@code dx}) and forward outputs ({@code y}) <em>overwrite</em>.</li>
 *   <li><b>Meeting rule:</b> where one output feeds several nodes of a model graph, the data
 *       gradients those nodes pass back <em>add up</em> ({@link #add}) into that output's
 *       gradient: the same rule as for parameters, applied by the graph, not by the operations.</li>
 *   <li>Labels are INT32 tensors of shape (n); max-pooling masks are INT32 tensors shaped like
 *       the pooled output, holding the flat index {@code row·w + col} of the winner in its input
 *       plane.</li>
 *   <li>Ties in a max resolve to the first maximum in row-major window order.</li>
 * </ul>
 */
public interface Backend extends ConvolutionOps, PoolingOps, NormalizationOps, FeatureMapOps, OptimizerOps, AutoCloseable {

    /** A short name for logs and messages, e.g. "cpu(2 threads)". */
    String name();

    /** The element type of this backend's floating-point tensors (FLOAT32, or FLOAT64 for the reference). */
    DType precision();

    // ---------------------------------------------------------------- memory

    /** A new floating-point tensor of the given shape, filled with zeros. */
    Tensor allocate(Shape shape);

    /** A new INT32 tensor of the given shape, filled with zeros. */
    Tensor allocateInts(Shape shape);

    /** A new floating-point tensor holding a copy of {@code values}. */
    Tensor upload(Shape shape, float[] values);

    /** A new floating-point tensor holding a copy of {@code values} (rounded on float backends). */
    Tensor upload(Shape shape, double[] values);

    /** A new INT32 tensor holding a copy of {@code values}. */
    Tensor uploadInts(Shape shape, int[] values);

    /** Overwrites {@code dst} with {@code values} (one value per element). */
    void write(Tensor dst, float[] values);

    /** Overwrites {@code dst} with {@code values}, rounded on float backends. */
    default void write(Tensor dst, double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        write(dst, f);
    }

    /** Overwrites the INT32 tensor {@code dst} with {@code values}. */
    void writeInts(Tensor dst, int[] values);

    float[] downloadFloats(Tensor x);

    double[] downloadDoubles(Tensor x);

    int[] downloadInts(Tensor x);

    /** Sets every element of {@code y} to {@code value}. */
    void fill(Tensor y, double value);

    /** {@link #fill} for each tensor; backends may do them all in one launch (a model's gradients before a step). */
    default void fill(List<Tensor> ys, double value) {
        for (Tensor y : ys) fill(y, value);
    }

    /** y = x (same number of elements). */
    void copy(Tensor y, Tensor x);

    /** The sum of all elements, accumulated in double. */
    double sum(Tensor x);

    /**
     * y = a + b, element by element, over tensors of one size; y may be a or b. A graph adds its
     * branches with it, and sums the gradients where one output feeds several nodes.
     */
    void add(Tensor y, Tensor a, Tensor b);

    /**
     * Copies x (n, c', …) into channels [offset, offset + c') of y (n, c, …), the same trailing
     * size; with {@code extract}, the other way: x = those channels of y. A {@code Concat} joins its
     * inputs with it and hands each its share of the gradient.
     */
    void copyChannels(Tensor y, Tensor x, int offset, boolean extract);

    /**
     * Zero padding: y (n, c, h', w') = x (n, c, h, w) placed at row {@code top}, column {@code
     * left} of each plane, zeros around it; with {@code crop}, the other way: x = that window of y
     * (the padding's backward pass). {@code ZeroPad2d} pads with it.
     */
    void padPlanes(Tensor y, Tensor x, int top, int left, boolean crop);

    // ---------------------------------------------------------------- dense algebra

    /**
     * c = alpha · op(a) · op(b) + beta · c, where op transposes when asked. Tensors are read as
     * row-major matrices ({@code rows() × columns()}); with beta = 0, c's old contents are ignored.
     */
    void gemm(boolean transA, boolean transB, double alpha, Tensor a, Tensor b, double beta, Tensor c);

    // ---------------------------------------------------------------- elementwise

    /** y = f(x). y and x may be the same tensor. */
    void activationForward(Activation f, Tensor y, Tensor x);

    /**
     * dx = dy ∘ f'(x), given x and y = f(x). Overwrites dx; dx may be dy. Where f' can be had from y
     * alone (not {@link Activation#derivativeNeedsInput()}), x may be y when x is gone.
     */
    void activationBackward(Activation f, Tensor dx, Tensor dy, Tensor x, Tensor y);

    /**
     * {@link #activationBackward(Activation, Tensor, Tensor, Tensor, Tensor)}, then, unless db is
     * null, {@link #biasBackward}(db, dx): the bias gradient of the convolution or dense layer whose
     * output the activation took, which a backend may sum as it writes dx (see
     * {@link #biasGradientWithActivation()}). Accumulates db.
     */
    default void activationBackward(Activation f, Tensor dx, Tensor db, Tensor dy, Tensor x, Tensor y) {
        activationBackward(f, dx, dy, x, y);
        if (db != null) biasBackward(db, dx);
    }

    /**
     * Whether this backend sums a convolution's bias gradient best in the backward pass that writes
     * the convolution's dy (an activation's, or a max pooling's that takes over the ReLU's), given it
     * there as db, rather than in {@link #convBackwardFilter(Tensor, Tensor, Tensor, Tensor, ConvGeometry)}'s
     * pass over dy. The layers ask, and hand db to the one operation that sums it. The GPU says yes:
     * its warp-per-plane kernels sum each plane as they write it; the CPU sums it with the filter
     * gradient.
     */
    default boolean biasGradientWithActivation() {
        return false;
    }

    /** Row-wise softmax of x (n, classes), computed stably (max subtracted). */
    void softmaxForward(Tensor y, Tensor x);

    /** dx = y ∘ (dy − Σ_j dy_j y_j) per row. Overwrites dx. */
    void softmaxBackward(Tensor dx, Tensor dy, Tensor y);

    /**
     * Inverted dropout: mask(i) = 0 with probability p, else 1/(1 − p), from a counter-based hash of
     * (seed, i) so every backend draws the same mask; y = x ∘ mask.
     */
    void dropoutForward(Tensor y, Tensor mask, Tensor x, double p, long seed);

    /** dx = dy ∘ mask. Overwrites dx. */
    void dropoutBackward(Tensor dx, Tensor dy, Tensor mask);

    /** y = a ∘ b, element by element (y may be a); the product {@link #dropoutBackward} computes. */
    default void multiply(Tensor y, Tensor a, Tensor b) {
        dropoutBackward(y, a, b);
    }

    // ---------------------------------------------------------------- losses and metrics

    /**
     * Fused softmax cross-entropy on logits (n, classes): loss(i) = logsumexp(x_i) − x_i[label_i],
     * and, when dx is not null, dx = gradScale · (softmax(x) − onehot(label)). Labels outside
     * [0, classes) are rejected with the offending index and value.
     */
    void softmaxCrossEntropy(Tensor loss, Tensor dx, Tensor logits, Tensor labels, double gradScale);

    /**
     * Squared error (Bouvrie's notes, §2.1): loss(i) = ½ Σ_j (t_ij − y_ij)², and, when dy is not null,
     * dy = gradScale · (y − t).
     */
    void squaredError(Tensor loss, Tensor dy, Tensor y, Tensor target, double gradScale);

    /** out(i) = the index of the largest value of row i of x (first one on ties). out is INT32 (n). */
    void argmax(Tensor out, Tensor x);

    // ---------------------------------------------------------------- step results kept on the backend

    /**
     * Appends one training step's results to a log kept on the backend, so that a step need not
     * wait for the host to read its loss: with i = cursor(0), log(i, 0) = the mean of
     * perSampleLoss (n) (summed in double, rounded once) and log(i, 1) = the number of rows of
     * logits (n, classes) whose {@link #argmax} is the row's label, or −1 when labels is null; then
     * cursor(0) = i + 1. When i is past log's last row nothing is written but the cursor still
     * counts, so that the reader can tell the log overflowed. log is (rows, 2), cursor INT32 (1).
     */
    void recordStep(Tensor log, Tensor cursor, Tensor perSampleLoss, Tensor logits, Tensor labels);

    // ---------------------------------------------------------------- the operation families

    /** A backend's implementations of the operation families, to which the families' methods here go. */
    record Families(ConvolutionOps convolution, PoolingOps pooling, NormalizationOps normalization, FeatureMapOps featureMaps,
                    OptimizerOps optimizers) {
    }

    /** This backend's implementations of the operation families. */
    Families families();

    /** The convolution operations: every method of {@link ConvolutionOps} here goes to it. */
    default ConvolutionOps convolution() {
        return families().convolution();
    }

    /** The pooling operations: every method of {@link PoolingOps} here goes to it. */
    default PoolingOps pooling() {
        return families().pooling();
    }

    /** The normalisation operations: every method of {@link NormalizationOps} here goes to it. */
    default NormalizationOps normalization() {
        return families().normalization();
    }

    /** Subsampling and learned feature-map combinations: every method of {@link FeatureMapOps} here goes to it. */
    default FeatureMapOps featureMaps() {
        return families().featureMaps();
    }

    /** The optimizers' updates: every method of {@link OptimizerOps} here goes to it. */
    default OptimizerOps optimizers() {
        return families().optimizers();
    }

    @Override
    default void convForward(Tensor y, Tensor x, Tensor w, ConvGeometry g) {
        convolution().convForward(y, x, w, g);
    }

    @Override
    default void convForward(Tensor y, Tensor x, Tensor w, Tensor b, ConvGeometry g) {
        convolution().convForward(y, x, w, b, g);
    }

    @Override
    default void convBackwardData(Tensor dx, Tensor dy, Tensor w, ConvGeometry g) {
        convolution().convBackwardData(dx, dy, w, g);
    }

    @Override
    default void convBackwardFilter(Tensor dw, Tensor x, Tensor dy, ConvGeometry g) {
        convolution().convBackwardFilter(dw, x, dy, g);
    }

    @Override
    default void convBackwardFilter(Tensor dw, Tensor db, Tensor x, Tensor dy, ConvGeometry g) {
        convolution().convBackwardFilter(dw, db, x, dy, g);
    }

    @Override
    default void addBias(Tensor y, Tensor b) {
        convolution().addBias(y, b);
    }

    @Override
    default void biasBackward(Tensor db, Tensor dy) {
        convolution().biasBackward(db, dy);
    }

    @Override
    default void maxPoolForward(Tensor y, Tensor mask, Tensor x, PoolGeometry g) {
        pooling().maxPoolForward(y, mask, x, g);
    }

    @Override
    default void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, PoolGeometry g) {
        pooling().maxPoolBackward(dx, dy, mask, g);
    }

    @Override
    default void avgPoolForward(Tensor y, Tensor x, PoolGeometry g) {
        pooling().avgPoolForward(y, x, g);
    }

    @Override
    default void avgPoolBackward(Tensor dx, Tensor dy, PoolGeometry g) {
        pooling().avgPoolBackward(dx, dy, g);
    }

    @Override
    default void batchNormTraining(Tensor y, Tensor saveMean, Tensor saveInvStd, Tensor x, Tensor gamma, Tensor beta,
                                   Tensor runningMean, Tensor runningVar, double momentum, double eps) {
        normalization().batchNormTraining(y, saveMean, saveInvStd, x, gamma, beta, runningMean, runningVar, momentum, eps);
    }

    @Override
    default void batchNormInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        normalization().batchNormInference(y, x, gamma, beta, runningMean, runningVar, eps);
    }

    @Override
    default void batchNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma, Tensor saveMean, Tensor saveInvStd) {
        normalization().batchNormBackward(dx, dgamma, dbeta, dy, x, gamma, saveMean, saveInvStd);
    }

    @Override
    default void subsampleForward(Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g) {
        featureMaps().subsampleForward(y, x, beta, b, g);
    }

    @Override
    default void subsampleBackward(Tensor dx, Tensor dbeta, Tensor db, Tensor dy, Tensor x, Tensor beta, PoolGeometry g) {
        featureMaps().subsampleBackward(dx, dbeta, db, dy, x, beta, g);
    }

    @Override
    default void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c) {
        featureMaps().combinationForward(wEff, alpha, k, c);
    }

    @Override
    default void combinationBackward(Tensor dk, Tensor dc, Tensor dwEff, Tensor alpha, Tensor k, CombinationPenalty penalty, double lambda) {
        featureMaps().combinationBackward(dk, dc, dwEff, alpha, k, penalty, lambda);
    }

    @Override
    default double combinationPenalty(Tensor alpha, CombinationPenalty penalty, double lambda) {
        return featureMaps().combinationPenalty(alpha, penalty, lambda);
    }

    @Override
    default void sgdStep(Tensor w, Tensor velocity, Tensor dw, Tensor rates, int row, double momentum, boolean nesterov) {
        optimizers().sgdStep(w, velocity, dw, rates, row, momentum, nesterov);
    }

    @Override
    default void sgdSteps(List<Tensor> w, List<Tensor> velocity, List<Tensor> dw, Tensor rates, double momentum, boolean nesterov) {
        optimizers().sgdSteps(w, velocity, dw, rates, momentum, nesterov);
    }

    @Override
    default void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, Tensor rates, int row, double beta1, double beta2, double eps,
                          boolean decoupled) {
        optimizers().adamStep(w, m, v, dw, rates, row, beta1, beta2, eps, decoupled);
    }

    // ---------------------------------------------------------------- across families

    /**
     * The convolution with bias, then y = f(y) in place: a convolution layer and the activation
     * after it in one call, so that backends can apply f as the results are written out instead of
     * in another pass over y, and the model keeps one tensor instead of two.
     */
    default void convForward(Tensor y, Tensor x, Tensor w, Tensor b, Activation f, ConvGeometry g) {
        convForward(y, x, w, g);
        biasActivation(y, b, f);
    }

    /**
     * y = f(y + b) in place, b per channel as in {@link #addBias} (null: no bias): a layer's bias and
     * the activation after it, which a backend can apply in one pass over y.
     */
    default void biasActivation(Tensor y, Tensor b, Activation f) {
        if (b != null) addBias(y, b);
        if (f != Activation.IDENTITY) activationForward(f, y, y);
    }

    /**
     * {@link #maxPoolBackward(Tensor, Tensor, Tensor, PoolGeometry)}, then, unless reluOutput is
     * null, the backward pass of a ReLU whose output x was the pooling's input: dx(i) ∘= (x(i) > 0),
     * rounded as {@link #activationBackward} rounds it, so that backends can do both in one pass.
     */
    default void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        maxPoolBackward(dx, dy, mask, g);
        if (reluOutput != null) activationBackward(Activation.RELU, dx, dx, reluOutput, reluOutput);
    }

    /**
     * {@link #maxPoolBackward(Tensor, Tensor, Tensor, Tensor, PoolGeometry)}, then, unless db is null,
     * {@link #biasBackward}(db, dx): the bias gradient of the convolution below, whose ReLU's backward
     * pass the pooling took (see {@link #biasGradientWithActivation()}). Accumulates db.
     */
    default void maxPoolBackward(Tensor dx, Tensor db, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        maxPoolBackward(dx, dy, mask, reluOutput, g);
        if (db != null) biasBackward(db, dx);
    }

    /** {@link #sgdStep(Tensor, Tensor, Tensor, Tensor, int, double, boolean)} with the rates given here. */
    default void sgdStep(Tensor w, Tensor velocity, Tensor dw, double lr, double momentum, double weightDecay, boolean nesterov) {
        try (Tensor rates = upload(Shape.of(1, StepRates.COLUMNS), StepRates.sgd(lr, weightDecay, 1))) {
            sgdStep(w, velocity, dw, rates, 0, momentum, nesterov);
        }
    }

    /** {@link #adamStep(Tensor, Tensor, Tensor, Tensor, Tensor, int, double, double, double, boolean)} with the rates given here. */
    default void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, double lr, double beta1, double beta2, double eps,
                          double weightDecay, boolean decoupled, int t) {
        try (Tensor rates = upload(Shape.of(1, StepRates.COLUMNS), StepRates.adam(lr, weightDecay, t, beta1, beta2, decoupled))) {
            adamStep(w, m, v, dw, rates, 0, beta1, beta2, eps, decoupled);
        }
    }

    // ---------------------------------------------------------------- graphs

    /**
     * Records the device work that {@code work} issues, without running it, as a graph that
     * {@link Graph#replay} runs again with one launch: how a small training step escapes the cost
     * of launching its kernels one by one. The work must issue the same operations on the same
     * tensors every time and must not allocate or free backend memory or copy to or from the host.
     * Returns null on backends without graphs (the host backends run each operation as it is
     * called). Throws IllegalStateException, naming the cause, when the work cannot be recorded:
     * {@link MemoryChangedWhileRecording} when it allocated or freed memory.
     */
    default Graph capture(Runnable work) {
        return null;
    }

    /**
     * Thrown by {@link #capture} when the work allocated or freed backend memory while it was being
     * recorded: it did not find all its tensors in place (a batch of another size ran in between,
     * say). Run it once more eagerly, and record it after that.
     */
    final class MemoryChangedWhileRecording extends IllegalStateException {
        public MemoryChangedWhileRecording(String message) {
            super(message);
        }
    }

    /** Recorded work: see {@link #capture}. Closing frees it; closing twice is harmless. */
    interface Graph extends AutoCloseable {
        /**
         * Queues the recorded work once more and returns true; or, when backend memory was
         * allocated or freed since the recording (so that an address in it may be stale), does
         * nothing and returns false: record again then.
         */
        boolean replay();

        @Override
        void close();
    }

    /**
     * Waits until every operation issued so far has finished (for timing). Host backends finish
     * each operation before returning, so this does nothing there; the GPU backend waits for its queue.
     */
    default void synchronize() {
    }

    /** Frees the backend's threads and memory. Tensors it made are invalid afterwards. */
    @Override
    void close();
}
