package org.cnn4j.layer;

/**
 * What kind of forward pass this is. Training passes enable dropout and carry the optimizer step
 * number, from which each layer derives its random numbers, so a repeated forward pass of the
 * same step (as the gradient checker makes) sees the same dropout mask.
 */
public record Pass(boolean training, long step) {
    public static final Pass INFERENCE = new Pass(false, 0);

    public static Pass training(long step) {
        return new Pass(true, step);
    }
}
