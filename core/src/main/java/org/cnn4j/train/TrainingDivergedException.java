package org.cnn4j.train;

/**
 * The loss became NaN or infinite: training stops, naming the first step where it did, rather than
 * going on with garbage (at the next read-back of the step losses, a few steps later at most).
 */
public final class TrainingDivergedException extends RuntimeException {
    private final long step;

    public TrainingDivergedException(long step, int epoch, int batch, int batches, double loss, double learningRate) {
        super("training diverged: the loss is " + loss + " at step " + step + " (epoch " + epoch + ", batch " + (batch + 1) + " of "
                + batches + ", learning rate " + learningRate + "); try a lower learning rate. The last checkpoint, if any, is intact.");
        this.step = step;
    }

    /** Every step's loss was finite but {@code what} (the weights, the test loss) is not, at the end of an epoch. */
    public TrainingDivergedException(long step, int epoch, String what, double learningRate) {
        super("training diverged: " + what + " after step " + step + " (the end of epoch " + epoch + ", learning rate " + learningRate
                + "); try a lower learning rate. The last checkpoint, if any, is intact.");
        this.step = step;
    }

    public long step() {
        return step;
    }
}
