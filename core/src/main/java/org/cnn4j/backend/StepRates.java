package org.cnn4j.backend;

import org.cnn4j.tensor.Tensor;

/**
 * The numbers an optimizer step needs for one parameter, as one row of a (parameters,
 * {@link #COLUMNS}) tensor on the backend. The host computes them in double before each step and
 * writes the whole tensor at once; the update kernels read their row from it. Because the rates
 * live in backend memory and not in the kernels' arguments, a step recorded once as a CUDA graph
 * still follows the learning-rate schedule and Adam's step count when it is replayed.
 *
 * <p>Columns: the learning rate and weight decay (each already times the parameter's multiplier),
 * the step number t (from 1), and Adam's three derived constants, computed here once so that every
 * backend rounds the same doubles: stepSize = lr/(1 − β1^t), correction2 = sqrt(1 − β2^t) and
 * shrink = 1 − lr·weightDecay with decoupled decay, else 1. SGD leaves the Adam columns 0.
 */
public final class StepRates {
    public static final int LEARNING_RATE = 0, WEIGHT_DECAY = 1, STEP = 2, ADAM_STEP_SIZE = 3, ADAM_CORRECTION2 = 4, ADAM_SHRINK = 5;
    /** Values per row (two spare, for a row of 32 bytes). */
    public static final int COLUMNS = 8;

    private StepRates() {
    }

    /** The row of an SGD step. */
    public static double[] sgd(double lr, double weightDecay, int step) {
        double[] row = new double[COLUMNS];
        row[LEARNING_RATE] = lr;
        row[WEIGHT_DECAY] = weightDecay;
        row[STEP] = step;
        return row;
    }

    /** The row of Adam's step t ≥ 1. */
    public static double[] adam(double lr, double weightDecay, int t, double beta1, double beta2, boolean decoupled) {
        if (t < 1) throw new IllegalArgumentException("adamStep: step t must be >= 1, got " + t);
        double[] row = sgd(lr, weightDecay, t);
        row[ADAM_STEP_SIZE] = lr / (1 - Math.pow(beta1, t));
        row[ADAM_CORRECTION2] = Math.sqrt(1 - Math.pow(beta2, t));
        row[ADAM_SHRINK] = decoupled ? 1 - lr * weightDecay : 1;
        return row;
    }

    /** Checks that rates is a (rows, COLUMNS) tensor with the given row; returns the row's first index. */
    public static int offset(String op, Tensor rates, int row) {
        if (rates == null || rates.shape().rank() != 2 || rates.shape().dim(1) != COLUMNS) {
            throw new IllegalArgumentException(op + ": rates must have shape (parameters, " + COLUMNS + "), got "
                    + (rates == null ? "null" : rates.shape()));
        }
        if (row < 0 || row >= rates.shape().dim(0)) {
            throw new IllegalArgumentException(op + ": row " + row + " is outside the " + rates.shape().dim(0) + " rows of the rates");
        }
        return row * COLUMNS;
    }
}
