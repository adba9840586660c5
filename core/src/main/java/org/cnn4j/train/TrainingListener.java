package org.cnn4j.train;

/**
 * Observes a {@link Trainer}: progress bars, logs, reports, a host program's own bookkeeping. All
 * methods run on the training thread, between steps; keep them quick.
 */
public interface TrainingListener {
    /** A step's figures. {@code batch} counts from 0; {@code imagesPerSecond} is the epoch's rate so far. */
    record Step(int epoch, int batch, int batches, long step, double loss, double accuracy, double meanLoss, double imagesPerSecond) {
    }

    default void epochStarted(int epoch, int epochs, int batches) {
    }

    default void stepDone(Step step) {
    }

    /** After training and evaluating an epoch; {@code test} is null without a test set. */
    default void epochDone(EpochMetrics metrics, Evaluation test, Trainer trainer) {
    }

    /** After the checkpoint of the run's first {@code epochs} epochs was written to {@code file} (see {@link Trainer#checkpointTo}). */
    default void checkpointSaved(java.nio.file.Path file, int epochs) {
    }
}
