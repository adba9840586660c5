package org.cnn4j.distributed;

import java.util.ArrayList;
import java.util.List;

import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.Tensor;

/**
 * Data parallelism's one collective: after each replica's backward pass, every parameter gradient
 * becomes its mean over the job's processes, so that each replica's optimizer takes the same step
 * (each process's loss being the mean over its own batch, the mean of the gradients is the
 * gradient of the mean loss over the job's whole batch).
 *
 * <p>The gradients travel in buckets, as PyTorch's DistributedDataParallel sends them: the layers
 * are taken from the last to the first (the order in which the backward pass finishes them), and
 * a bucket closes once its gradients reach the communicator's {@link Communicator#bucketBytes()}
 * (a layer is never split). The model's backward pass reports each layer it has finished
 * ({@link #begin}, {@link #layerDone}); a bucket whose layers are all done is reduced at once, so that a
 * communicator of device tensors reduces it on the device while the host goes on issuing the
 * backward pass of the layers below. {@link #finish} reduces what is left. Every process plans
 * the same buckets from the same model, and so issues the same collectives in the same order.
 */
public final class GradientAverager {
    private final Communicator communicator;
    private final List<Bucket> buckets = new ArrayList<>();
    /** The next bucket to reduce in this backward pass. */
    private int next;

    /** A bucket: its gradients, and the first layer (in forward order) whose backward pass completes it. */
    private record Bucket(List<Tensor> gradients, int firstLayer) {
    }

    /**
     * Buckets of at least {@code bucketBytes} bytes of gradients (the last may hold less; {@link
     * Communicator#bucketBytes()} is the communicator's choice) for {@code layers} (the model's, in
     * forward order).
     */
    public GradientAverager(Communicator communicator, List<Layer> layers, long bucketBytes) {
        if (bucketBytes < 1) throw new IllegalArgumentException("a bucket must hold at least one byte, got " + bucketBytes);
        this.communicator = communicator;
        List<Tensor> open = new ArrayList<>();
        long bytes = 0;
        for (int i = layers.size() - 1; i >= 0; i--) {
            for (Parameter p : layers.get(i).parameters()) {
                open.add(p.gradient());
                bytes += 4L * p.gradient().size();
            }
            if (!open.isEmpty() && (bytes >= bucketBytes || i == 0)) {
                buckets.add(new Bucket(List.copyOf(open), i));
                open.clear();
                bytes = 0;
            }
        }
    }

    public Communicator communicator() {
        return communicator;
    }

    /** How many buckets a backward pass reduces. */
    public int buckets() {
        return buckets.size();
    }

    /** A backward pass begins: no bucket reduced yet (whatever an interrupted pass left). */
    public void begin() {
        next = 0;
    }

    /** The backward pass has finished layer {@code index} (forward order, counting down): reduces the buckets it completes. */
    public void layerDone(int index) {
        while (next < buckets.size() && buckets.get(next).firstLayer() >= index) reduce(buckets.get(next++));
    }

    /** The backward pass is over: reduces the buckets not yet reduced. */
    public void finish() {
        while (next < buckets.size()) reduce(buckets.get(next++));
    }

    private void reduce(Bucket bucket) {
        communicator.allReduceMean(bucket.gradients()); // a host communicator of one process returns at once
    }
}
