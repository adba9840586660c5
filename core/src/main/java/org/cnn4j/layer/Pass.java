package org.cnn4j.layer;

/**
 * What kind of forward pass this is. Training passes enable dropout and carry the optimizer step
 * number, from which each layer derives its random numbers, so a repeated forward pass of the
 * same step (as the gradient checker makes) sees the same dropout mask.
 *
 * <p>{@code firstSample} is the place of the batch's first sample in the job's whole batch: 0 in
 * one process; r·b for replica r of a data-parallel job with batches of b per process. Random
 * numbers drawn per element start there, so the replicas together draw what one process would
 * draw for the whole batch (and no two replicas draw the same masks).
 */
public record Pass(boolean training, long step, long firstSample) {
    public static final Pass INFERENCE = new Pass(false, 0, 0);

    public Pass {
        if (firstSample < 0) throw new IllegalArgumentException("firstSample must be >= 0, got " + firstSample);
    }

    public static Pass training(long step) {
        return new Pass(true, step, 0);
    }

    /** This pass with the batch's first sample at {@code first} of the job's batch. */
    public Pass startingAt(long first) {
        return new Pass(training, step, first);
    }
}
