package org.cnn4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.cnn4j.backend.PoolGeometry;
import org.junit.jupiter.api.Test;

/** The single-pass and the vector 2×2 max pooling give bitwise the tap-by-tap result, ties, ±0 and NaN included. */
class CpuPoolingTest {
    @Test
    void plain2x2KernelMatchesTheTapByTapOneBitForBit() {
        try (Parallel parallel = new Parallel(2)) {
            CpuPooling pooling = new CpuPooling(parallel);
            for (int[] size : new int[][] {{26, 26}, {11, 9}, {2, 2}, {7, 12}}) {
                PoolGeometry g = PoolGeometry.square(3, size[0], size[1], 2, 2);
                assertTrue(CpuPooling.isPlain2x2(g));
                int planes = 2 * g.c(), in = planes * g.h() * g.w(), out = planes * g.p() * g.q();
                Random rng = new Random(size[0] * 31 + size[1]);
                float[] x = new float[in];
                float[] special = {0f, -0f, Float.NaN, 1f, -1f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY};
                for (int i = 0; i < in; i++) {
                    // Few distinct values, so that windows tie often; some ±0, NaN and infinities.
                    x[i] = rng.nextInt(5) == 0 ? special[rng.nextInt(special.length)] : rng.nextInt(3) - 1;
                }
                float[] y1 = new float[out], y2 = new float[out], y3 = new float[out];
                int[] m1 = new int[out], m2 = new int[out], m3 = new int[out];
                java.util.Arrays.fill(y3, 12345f);
                java.util.Arrays.fill(m3, -1);
                pooling.maxForward2x2(y1, m1, x, planes, g);
                pooling.maxForwardTaps(y2, m2, x, planes, g);
                assertArrayEquals(m2, m1, "masks for " + g);
                assertBitwise(y2, y1, "single pass, " + g);
                if (Sgemm.VECTOR) {
                    pooling.maxForward2x2Vector(y3, m3, x, planes, g);
                    assertArrayEquals(m2, m3, "vector masks for " + g);
                    assertBitwise(y2, y3, "vector, " + g);
                }
            }
        }
    }

    /** Same bits, or both NaN (Math.max returns whichever NaN it met first; so may the kernels). */
    private static void assertBitwise(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Float.floatToRawIntBits(expected[i]) == Float.floatToRawIntBits(actual[i])
                    || (Float.isNaN(expected[i]) && Float.isNaN(actual[i])), "y[" + i + "]: " + actual[i] + " against " + expected[i] + ", " + what);
        }
    }
}
