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
public interface Backend extends AutoCloseable {

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

    // ---------------------------------------------------------------- convolution

    /** y(n,k,p,q) = Σ_{c,r,s} x(n, c, p·sh − ph + r·dh, q·sw − pw + s·dw) · w(k,c,r,s); out-of-range x reads 0. */
    void convForward(Tensor y, Tensor x, Tensor w, ConvGeometry g);

    /**
     * {@link #convForward(Tensor, Tensor, Tensor, ConvGeometry)}, then {@link #addBias} with b when b is not
     * null, with the same rounding (the bias is added to the finished sum). Backends may do both in one
     * pass over y.
     */
    default void convForward(Tensor y, Tensor x, Tensor w, Tensor b, ConvGeometry g) {
        convForward(y, x, w, g);
        if (b != null) addBias(y, b);
    }

    /**
     * The convolution with bias, then y = f(y) in place: a convolution layer and the activation
     * after it in one call, so that backends can apply f as the results are written out instead of
     * in another pass over y, and the model keeps one tensor instead of two.
     */
    default void convForward(Tensor y, Tensor x, Tensor w, Tensor b, Activation f, ConvGeometry g) {
        convForward(y, x, w, g);
        biasActivation(y, b, f);
    }

    /** dx = the full convolution of dy with the filters rotated 180° (transposed convolution). Overwrites dx. */
    void convBackwardData(Tensor dx, Tensor dy, Tensor w, ConvGeometry g);

    /** dw += the valid correlation of x with dy, summed over the batch. Accumulates. */
    void convBackwardFilter(Tensor dw, Tensor x, Tensor dy, ConvGeometry g);

    /**
     * {@link #convBackwardFilter(Tensor, Tensor, Tensor, ConvGeometry)}, then {@link #biasBackward}
     * into db when db is not null. Backends may compute both in one pass over dy.
     */
    default void convBackwardFilter(Tensor dw, Tensor db, Tensor x, Tensor dy, ConvGeometry g) {
        convBackwardFilter(dw, x, dy, g);
        if (db != null) biasBackward(db, dy);
    }

    /** y(n,k,…) += b(k) for every position of channel k. y may be (n,k,h,w) or (n,k). */
    void addBias(Tensor y, Tensor b);

    /**
     * y = f(y + b) in place, b per channel as in {@link #addBias} (null: no bias): a layer's bias and
     * the activation after it, which a backend can apply in one pass over y.
     */
    default void biasActivation(Tensor y, Tensor b, Activation f) {
        if (b != null) addBias(y, b);
        if (f != Activation.IDENTITY) activationForward(f, y, y);
    }

    /** db(k) += Σ over batch and positions of dy(n,k,…). Accumulates. */
    void biasBackward(Tensor db, Tensor dy);

    // ---------------------------------------------------------------- pooling and subsampling

    /** y = max over each window; mask records where each maximum came from. */
    void maxPoolForward(Tensor y, Tensor mask, Tensor x, PoolGeometry g);

    /** dx(i) = Σ dy(o) over the outputs o whose mask points at i (correct for overlapping windows). Overwrites dx. */
    void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, PoolGeometry g);

    /**
     * {@link #maxPoolBackward(Tensor, Tensor, Tensor, PoolGeometry)}, then, unless reluOutput is
     * null, the backward pass of a ReLU whose output x was the pooling's input: dx(i) ∘= (x(i) > 0),
     * rounded as {@link #activationBackward} rounds it, so that backends can do both in one pass.
     */
    default void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        maxPoolBackward(dx, dy, mask, g);
        if (reluOutput != null) activationBackward(Activation.RELU, dx, dx, reluOutput, reluOutput);
    }

    /** y = mean over each window (divisor windowH·windowW, padding included). */
    void avgPoolForward(Tensor y, Tensor x, PoolGeometry g);

    /** dx(i) = Σ dy(o) / (windowH·windowW) over the windows o that cover i. Overwrites dx. */
    void avgPoolBackward(Tensor dx, Tensor dy, PoolGeometry g);

    /**
     * Subsampling (Bouvrie's notes, §3.2): y(n,c,i,j) = β(c)·down(x)(n,c,i,j) + b(c), where down sums each
     * window of g (usually n×n blocks with stride n).
     */
    void subsampleForward(Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g);

    /**
     * Backward of {@link #subsampleForward}: dbeta(c) += Σ dy ∘ down(x); db(c) += Σ dy (accumulate);
     * dx = β(c)·up(dy) (overwrite), where up spreads each dy over its window.
     */
    void subsampleBackward(Tensor dx, Tensor dbeta, Tensor db, Tensor dy, Tensor x, Tensor beta, PoolGeometry g);

    // ---------------------------------------------------------------- dense algebra

    /**
     * Batch normalisation in training mode, per channel c of x (n, c, …): the batch mean μ and the
     * biased variance σ² over the n samples and the spatial positions (M values), then
     * {@code y = (x − μ)·(γ/√(σ² + eps)) + β}. Saves μ and 1/√(σ² + eps) (as float32, which the
     * normalisation uses) for {@link #batchNormBackward}, and updates the running statistics as
     * PyTorch: {@code runningMean ← (1 − m)·runningMean + m·μ},
     * {@code runningVar ← (1 − m)·runningVar + m·σ²·M/(M − 1)} (the unbiased variance). Sums are
     * taken in double; y overwrites.
     */
    void batchNormTraining(Tensor y, Tensor saveMean, Tensor saveInvStd, Tensor x, Tensor gamma, Tensor beta,
                           Tensor runningMean, Tensor runningVar, double momentum, double eps);

    /** Batch normalisation in inference mode: {@code y = (x − runningMean)·(γ/√(runningVar + eps)) + β}, in float32. */
    void batchNormInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps);

    /**
     * The backward pass of {@link #batchNormTraining}: with x̂ = (x − μ)·s (s the saved 1/√(σ² + eps)),
     * {@code dγ += Σ dy·x̂}, {@code dβ += Σ dy} (accumulate), and
     * {@code dx = γ·s·(dy − Σdy/M − x̂·Σ(dy·x̂)/M)} (overwrites).
     */
    void batchNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor gamma, Tensor saveMean, Tensor saveInvStd);

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

    // ---------------------------------------------------------------- learned feature-map combinations

    /**
     * Mixing weights of learned feature-map combinations: alpha(j,i) = softmax over i of c(j,i), and the effective
     * filters wEff(j,i,r,s) = alpha(j,i) · k(j,i,r,s).
     */
    void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c);

    /**
     * Backward of {@link #combinationForward} given dwEff: dk += alpha ∘ dwEff;
     * dalpha(j,i) = Σ_{r,s} k ∘ dwEff; dc += alpha ∘ (dalpha − Σ_i alpha·dalpha), plus the gradient
     * of {@code lambda · penalty} with respect to c. Accumulates dk and dc.
     */
    void combinationBackward(Tensor dk, Tensor dc, Tensor dwEff, Tensor alpha, Tensor k,
                             CombinationPenalty penalty, double lambda);

    /** lambda · Σ_j Ω(alpha(j,·)) for the given penalty. */
    double combinationPenalty(Tensor alpha, CombinationPenalty penalty, double lambda);

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

    // ---------------------------------------------------------------- optimizers

    /**
     * SGD as PyTorch defines it, with lr and weightDecay from row {@code row} of {@code rates}
     * ({@link StepRates}): g = dw + weightDecay·w; v = momentum·v + g;
     * step = nesterov ? g + momentum·v : v (just g when momentum is 0, and velocity may be null);
     * w −= lr · step.
     */
    void sgdStep(Tensor w, Tensor velocity, Tensor dw, Tensor rates, int row, double momentum, boolean nesterov);

    /**
     * {@link #sgdStep(Tensor, Tensor, Tensor, Tensor, int, double, boolean)} for parameter i of the
     * lists with row i of rates (velocities may be null without momentum); backends may update them
     * all in one launch, with the same arithmetic.
     */
    default void sgdSteps(List<Tensor> w, List<Tensor> velocity, List<Tensor> dw, Tensor rates, double momentum,
                          boolean nesterov) {
        for (int i = 0; i < w.size(); i++) sgdStep(w.get(i), velocity.get(i), dw.get(i), rates, i, momentum, nesterov);
    }

    /** {@link #sgdStep(Tensor, Tensor, Tensor, Tensor, int, double, boolean)} with the rates given here. */
    default void sgdStep(Tensor w, Tensor velocity, Tensor dw, double lr, double momentum, double weightDecay, boolean nesterov) {
        try (Tensor rates = upload(Shape.of(1, StepRates.COLUMNS), StepRates.sgd(lr, weightDecay, 1))) {
            sgdStep(w, velocity, dw, rates, 0, momentum, nesterov);
        }
    }

    /**
     * Adam (Kingma and Ba) at step t ≥ 1, as PyTorch, with lr, weightDecay, t and the derived
     * constants from row {@code row} of {@code rates} ({@link StepRates}): g = dw (+ weightDecay·w
     * unless decoupled); m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
     * w −= lr · (m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps); decoupled (AdamW) first multiplies w by
     * (1 − lr·weightDecay).
     */
    void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, Tensor rates, int row, double beta1, double beta2, double eps, boolean decoupled);

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
