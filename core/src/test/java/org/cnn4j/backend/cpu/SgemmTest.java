package org.cnn4j.backend.cpu;

import static org.cnn4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Vector API kernel against the scalar one (its oracle) and a double-precision loop, on sizes
 * that are and are not multiples of its tile (4 rows × 2 vectors) and blocks (128 deep, 512 wide),
 * with both transposes, alpha and beta. Tolerance 1e-5 of the result's scale: the two kernels
 * round differently (fused multiply-add against multiply then add) over sums of up to 700 terms.
 */
class SgemmTest {
    static Stream<Arguments> shapes() {
        int[][] mnk = {{1, 1, 1}, {4, 32, 8}, {5, 33, 9}, {64, 121, 288}, {7, 600, 130}, {13, 17, 700}, {32, 1024, 27}};
        return Stream.of(mnk).flatMap(s -> Stream.of(Arguments.of(s[0], s[1], s[2], false, false), Arguments.of(s[0], s[1], s[2], true, false),
                Arguments.of(s[0], s[1], s[2], false, true), Arguments.of(s[0], s[1], s[2], true, true)));
    }

    @Test
    void theVectorKernelIsInUseInTheseTests() {
        assumeFalse("false".equals(System.getProperty("cnn4j.vector")), "-Dcnn4j.vector=false: the scalar kernels are under test");
        assertTrue(Sgemm.VECTOR, "surefire runs with --add-modules jdk.incubator.vector");
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void vectorKernelAgreesWithScalarAndDouble(int m, int n, int k, boolean transA, boolean transB) {
        Random rng = new Random(m * 31 + n * 7 + k);
        float[] a = random(rng, m * k), b = random(rng, k * n), c0 = random(rng, m * n);
        int lda = transA ? m : k, ldb = transB ? k : n;
        float alpha = 0.75f, beta = -0.5f;
        double[] expected = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    sum += (double) (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                }
                expected[i * n + j] = alpha * sum + beta * c0[i * n + j];
            }
        }
        float[] vector = c0.clone(), scalar = c0.clone(), threaded = c0.clone();
        Sgemm.multiply(vector, 0, n, a, 0, lda, transA, b, 0, ldb, transB, m, n, k, alpha, beta);
        Sgemm.multiplyScalar(scalar, 0, n, a, 0, lda, transA, b, 0, ldb, transB, m, n, k, alpha, beta);
        try (Parallel two = new Parallel(2)) {
            Sgemm.multiply(two, threaded, 0, n, a, 0, lda, transA, b, 0, ldb, transB, m, n, k, alpha, beta);
        }
        double scale = Math.max(1, org.cnn4j.testing.Close.maxAbs(expected));
        String what = m + "x" + n + "x" + k + (transA ? " Aᵀ" : "") + (transB ? " Bᵀ" : "");
        assertClose("vector kernel " + what, expected, vector, 1e-5 * scale, 1e-5);
        assertClose("scalar kernel " + what, expected, scalar, 1e-5 * scale, 1e-5);
        assertArrayEquals(vector, threaded, "the same bits on 1 and 2 threads: " + what);
    }

    private static float[] random(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (2 * rng.nextDouble() - 1);
        return v;
    }
}
