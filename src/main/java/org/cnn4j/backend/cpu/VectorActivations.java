package org.cnn4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import org.cnn4j.backend.Activation;

/**
 * Forward tanh, scaled tanh and sigmoid with the Vector API's float TANH and EXP (the JDK's
 * vectorised math library on x86): measured on 4M floats, tanh took 2.8 ms against Math.tanh's
 * 50 ms, within 1 ulp of Math.tanh rounded to float. Every element is computed by the same vector
 * operations, the last partial vector under a mask, so a result does not depend on where the
 * parallel loop splits the range.
 *
 * <p>Loaded only when the JVM has jdk.incubator.vector (see {@link Sgemm#VECTOR}).
 */
final class VectorActivations {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float A = (float) Activation.SCALED_TANH_A, B = (float) Activation.SCALED_TANH_B;

    private VectorActivations() {
    }

    /** Whether this class computes fn's forward pass. */
    static boolean serves(Activation fn) {
        return fn == Activation.TANH || fn == Activation.SCALED_TANH || fn == Activation.SIGMOID;
    }

    /** y[i] = fn(x[i]) for lo ≤ i < hi. */
    static void forward(Activation fn, float[] y, float[] x, int lo, int hi) {
        int i = lo;
        for (; i + L <= hi; i += L) apply(fn, FloatVector.fromArray(S, x, i)).intoArray(y, i);
        if (i < hi) {
            VectorMask<Float> m = S.indexInRange(i, hi);
            apply(fn, FloatVector.fromArray(S, x, i, m)).intoArray(y, i, m);
        }
    }

    private static FloatVector apply(Activation fn, FloatVector v) {
        return switch (fn) {
            case TANH -> v.lanewise(VectorOperators.TANH);
            case SCALED_TANH -> v.mul(B).lanewise(VectorOperators.TANH).mul(A);
            case SIGMOID -> FloatVector.broadcast(S, 1f).div(v.neg().lanewise(VectorOperators.EXP).add(1f));
            default -> throw new IllegalArgumentException("no vector kernel for " + fn);
        };
    }
}
