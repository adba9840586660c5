package org.cnn4j.layer;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import org.cnn4j.distributed.Communicator;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Batch normalisation over the channels of (n, c, …), with PyTorch's semantics: in training,
 * each channel is normalised with the batch's mean and biased variance over the samples and the
 * spatial positions, then scaled by γ ({@code weight}, initially 1) and shifted by β
 * ({@code bias}, initially 0); the running statistics ({@code running_mean}, initially 0, and
 * {@code running_var}, initially 1, the layer's {@link State}) move towards the batch's by
 * {@code momentum} (0.1), the variance unbiased, and {@code num_batches_tracked} counts the
 * training batches (a float tensor of one element, exact to 2^24 batches, where PyTorch keeps a
 * 0-dimensional int64: PyTorch's load_state_dict takes it). In inference the running statistics normalise.
 * {@code eps} (1e-5) is added to the variance. The backward pass follows a training pass.
 */
public abstract class BatchNorm extends Layer {
    /** The state that counts training batches, under PyTorch's name. */
    public static final String BATCHES_TRACKED = "num_batches_tracked";
    private final int features;
    private double eps = 1e-5, momentum = 0.1;
    private Parameter gamma, beta;
    private Tensor runningMean, runningVar, batchesTracked, x;
    private boolean trained;
    /** The processes whose batches this normalisation's statistics span (data-parallel training), or null: this batch alone. */
    private Communicator sync;
    /** Of the last synchronised training pass: x, the global mean and 1/σ per channel, the global count. */
    private double[] syncX, syncMean, syncInvStd;
    private double syncCount;

    protected BatchNorm(int features) {
        if (features < 1) throw new IllegalArgumentException("batch normalisation needs at least one channel, got " + features);
        this.features = features;
    }

    /** The number added to the variance before its square root (default 1e-5). */
    public BatchNorm eps(double eps) {
        requireUnbound("eps");
        if (!(eps > 0) || Double.isInfinite(eps)) throw new IllegalArgumentException("eps must be a finite number > 0, got " + eps);
        this.eps = eps;
        return this;
    }

    /** How far the running statistics move towards each batch's, in [0, 1] (default 0.1, as PyTorch). */
    public BatchNorm momentum(double momentum) {
        requireUnbound("momentum");
        if (!(momentum >= 0 && momentum <= 1)) throw new IllegalArgumentException("momentum must be in [0, 1], got " + momentum);
        this.momentum = momentum;
        return this;
    }

    public int features() {
        return features;
    }

    public double eps() {
        return eps;
    }

    /** Whether a per-sample input shape is one this kind normalises (its first dimension is then the channels). */
    protected abstract boolean accepts(Shape input);

    /** The input this kind takes, for messages: "(n, 16, h, w)". */
    protected abstract String expected();

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("features", features);
        s.put("eps", eps);
        s.put("momentum", momentum);
    }

    /** The normalisation {@link #settings} describes, made by {@code kind} from its channel count. */
    static BatchNorm read(Settings s, java.util.function.IntFunction<BatchNorm> kind) {
        return kind.apply(s.integer("features")).eps(s.number("eps")).momentum(s.number("momentum"));
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        if (!accepts(input) || input.dim(0) != features) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") expects input " + expected() + " but gets " + batchShape(input));
        }
        Shape c = Shape.of(features);
        gamma = parameter("weight", c, () -> filled(1));
        beta = parameter("bias", c, () -> filled(0));
        runningMean = state("running_mean", c, filled(0));
        runningVar = state("running_var", c, filled(1));
        batchesTracked = state(BATCHES_TRACKED, Shape.of(1), new double[] {0});
        trained = false;
        return input;
    }

    private double[] filled(double v) {
        double[] a = new double[features];
        Arrays.fill(a, v);
        return a;
    }

    /**
     * Synchronised batch normalisation (PyTorch's {@code SyncBatchNorm}): from now on a training
     * pass normalises with the mean and variance of the batches of all the processes of {@code c}
     * together (per-channel sums all-reduced), updates the running statistics with them, and the
     * backward pass reduces its per-channel sums of dy and dy·x̂ likewise, so that processes with
     * batches of m compute what one process with their joint batch would (before the gradients'
     * averaging). Through the host; null returns to each batch's own statistics.
     */
    public BatchNorm synchronisedOver(Communicator c) {
        this.sync = c == null || c.size() == 1 ? null : c;
        return this;
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        Tensor y = buffer("y", x.shape());
        Shape c = Shape.of(features);
        if (pass.training()) {
            if (sync != null) {
                synchronisedForward(y, x);
            } else {
                backend().batchNormTraining(y, buffer("mean", c), buffer("invStd", c), x, gamma.value(), beta.value(), runningMean, runningVar, momentum, eps);
            }
            Tensor one = buffer("one", Shape.of(1));
            backend().fill(one, 1);
            backend().add(batchesTracked, batchesTracked, one); // on the device, so that a replayed step counts too
            this.x = x;
        } else {
            backend().batchNormInference(y, x, gamma.value(), beta.value(), runningMean, runningVar, eps);
        }
        trained = pass.training();
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!trained) throw new IllegalStateException("layer '" + name() + "' (" + describe() + "): a backward pass follows a training pass, not an inference one");
        Tensor dx = buffer("dx", dy.shape());
        Shape c = Shape.of(features);
        if (sync != null) {
            synchronisedBackward(dx, dy);
        } else {
            backend().batchNormBackward(dx, gamma.gradient(), beta.gradient(), dy, x, gamma.value(), buffer("mean", c), buffer("invStd", c));
        }
        return computeInputGradient() ? dx : null;
    }

    /** The values per image and channel (h·w for images, 1 for features): element i is in channel (i / plane) mod features. */
    private int planeOf(Tensor t) {
        return t.size() / (t.shape().dim(0) * features);
    }

    /** y = γ·(x − μ)/σ + β with μ, σ² of all processes' batches (sums of x and x² all-reduced, in double); the running statistics follow. */
    private void synchronisedForward(Tensor y, Tensor x) {
        double[] xs = x.toDoubleArray(), sums = new double[2 * features + 1];
        int plane = planeOf(x);
        for (int i = 0; i < xs.length; i++) {
            int ch = i / plane % features;
            sums[ch] += xs[i];
            sums[features + ch] += xs[i] * xs[i];
        }
        sums[2 * features] = xs.length / features;
        sync.allReduceSum(sums);
        double count = sums[2 * features];
        double[] mean = new double[features], invStd = new double[features], var = new double[features];
        for (int ch = 0; ch < features; ch++) {
            mean[ch] = sums[ch] / count;
            var[ch] = Math.max(0, sums[features + ch] / count - mean[ch] * mean[ch]);
            invStd[ch] = 1 / Math.sqrt(var[ch] + eps);
        }
        double[] g = gamma.value().toDoubleArray(), b = beta.value().toDoubleArray(), out = new double[xs.length];
        for (int i = 0; i < xs.length; i++) {
            int ch = i / plane % features;
            out[i] = g[ch] * (xs[i] - mean[ch]) * invStd[ch] + b[ch];
        }
        backend().write(y, out);
        double[] rm = runningMean.toDoubleArray(), rv = runningVar.toDoubleArray();
        for (int ch = 0; ch < features; ch++) {
            rm[ch] = (1 - momentum) * rm[ch] + momentum * mean[ch];
            rv[ch] = (1 - momentum) * rv[ch] + momentum * var[ch] * count / Math.max(1, count - 1); // unbiased, as PyTorch
        }
        backend().write(runningMean, rm);
        backend().write(runningVar, rv);
        syncX = xs;
        syncMean = mean;
        syncInvStd = invStd;
        syncCount = count;
    }

    /**
     * dx = γ/σ·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) with the sums and the count M over all processes; γ's and
     * β's gradients gain this batch's own Σ(dy·x̂) and Σdy (the gradients' averaging makes them the
     * job's).
     */
    private void synchronisedBackward(Tensor dx, Tensor dy) {
        double[] d = dy.toDoubleArray(), sums = new double[2 * features], local = new double[2 * features];
        int plane = planeOf(dy);
        for (int i = 0; i < d.length; i++) {
            int ch = i / plane % features;
            double xhat = (syncX[i] - syncMean[ch]) * syncInvStd[ch];
            local[ch] += d[i];
            local[features + ch] += d[i] * xhat;
        }
        System.arraycopy(local, 0, sums, 0, sums.length);
        sync.allReduceSum(sums);
        double[] g = gamma.value().toDoubleArray(), out = new double[d.length];
        for (int i = 0; i < d.length; i++) {
            int ch = i / plane % features;
            double xhat = (syncX[i] - syncMean[ch]) * syncInvStd[ch];
            out[i] = g[ch] * syncInvStd[ch] * (d[i] - sums[ch] / syncCount - xhat * sums[features + ch] / syncCount);
        }
        backend().write(dx, out);
        double[] dg = gamma.gradient().toDoubleArray(), db = beta.gradient().toDoubleArray();
        for (int ch = 0; ch < features; ch++) {
            dg[ch] += local[features + ch];
            db[ch] += local[ch];
        }
        backend().write(gamma.gradient(), dg);
        backend().write(beta.gradient(), db);
    }

    @Override
    protected long multiplyAccumulates() {
        return 2L * outputShape().size();
    }
}
