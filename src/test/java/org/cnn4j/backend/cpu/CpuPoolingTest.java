package org.cnn4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.cnn4j.backend.PoolGeometry;
import org.junit.jupiter.api.Test;

/** The single-pass 2×2 max pooling gives bitwise the tap-by-tap result, ties, ±0 and NaN included. */
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
                float[] y1 = new float[out], y2 = new float[out];
                int[] m1 = new int[out], m2 = new int[out];
                pooling.maxForward2x2(y1, m1, x, planes, g);
                pooling.maxForwardTaps(y2, m2, x, planes, g);
                assertArrayEquals(m2, m1, "masks for " + g);
                for (int i = 0; i < out; i++) {
                    assertTrue(Float.floatToRawIntBits(y1[i]) == Float.floatToRawIntBits(y2[i]) || (Float.isNaN(y1[i]) && Float.isNaN(y2[i])),
                            "y[" + i + "]: " + y1[i] + " against " + y2[i] + " for " + g);
                }
            }
        }
    }
}
