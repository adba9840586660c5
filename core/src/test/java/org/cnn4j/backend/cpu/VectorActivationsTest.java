package org.cnn4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;

import org.cnn4j.backend.Activation;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The vector tanh, scaled tanh and sigmoid against the double-precision definitions in
 * {@link Activation}: within 4 float ulps of the exact value (Cephes' float tanh and exp are about
 * 1-2 ulps; scaled tanh rounds B·x and the product with A once each; a subnormal sigmoid may come
 * out 0), special values exact; bit for bit the same steps taken one value at a time in scalar
 * float arithmetic (so no library call whose result depends on the JIT hides in them); and the
 * same bits wherever the range is split (the last partial vector runs under a mask, not as scalars).
 */
class VectorActivationsTest {
    @ParameterizedTest
    @EnumSource(value = Activation.Kind.class, names = {"TANH", "SCALED_TANH", "SIGMOID"})
    void matchesTheDefinitionAndDoesNotDependOnTheSplit(Activation.Kind kind) {
        assumeTrue(Sgemm.VECTOR, "needs jdk.incubator.vector");
        Activation fn = Activation.of(kind);
        Random rng = new Random(kind.ordinal());
        float[] special = {0f, -0f, 1e-30f, -1e-30f, 20f, -20f, 100f, -100f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        int n = 10_003;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i < special.length ? special[i] : (float) (rng.nextGaussian() * 4);
        x[n - 1] = Float.NaN;
        float[] whole = new float[n], pieces = new float[n];
        VectorActivations.forward(fn, whole, x, 0, n);
        for (int lo = 0; lo < n; lo += 37) VectorActivations.forward(fn, pieces, x, lo, Math.min(n, lo + 37));
        assertArrayEquals(whole, pieces, "split in pieces of 37");
        assertTrue(Float.isNaN(whole[n - 1]), "NaN stays NaN");
        for (int i = 0; i < n - 1; i++) {
            double exact = fn.apply(x[i]);
            double ulp = Math.ulp((float) exact);
            // Sigmoid below about −88: e^−x overflows float, and the result is 0 for a subnormal.
            boolean bothTiny = Math.abs(exact) < Float.MIN_NORMAL && Math.abs(whole[i]) < Float.MIN_NORMAL;
            assertTrue(Math.abs(whole[i] - exact) <= 4 * ulp || bothTiny, fn + "(" + x[i] + ") = " + whole[i] + ", exactly " + exact);
        }
        for (int i = 0; i < n; i++) {
            float lane = switch (kind) {
                case TANH -> VectorActivations.tanhLane(x[i]);
                case SCALED_TANH -> (float) Activation.SCALED_TANH_A * VectorActivations.tanhLane((float) Activation.SCALED_TANH_B * x[i]);
                default -> VectorActivations.sigmoidLane(x[i]);
            };
            assertEquals(Float.floatToRawIntBits(lane), Float.floatToRawIntBits(whole[i]), fn + "(" + x[i] + "): the vector and the scalar steps");
        }
        if (fn == Activation.TANH) {
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(whole[1]), "tanh(-0) = -0");
        }
    }
}
