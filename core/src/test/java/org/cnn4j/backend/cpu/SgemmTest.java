package org.cnn4j.backend.cpu;

import static org.cnn4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 * And the choice between them, which follows what the JVM can compile.
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
        String slow = Sgemm.slowVectors(Sgemm::hotSpotFlag);
        assumeTrue(slow == null, () -> "this JVM runs the scalar kernels: " + slow);
        assertTrue(Sgemm.VECTOR, "surefire runs with --add-modules jdk.incubator.vector");
    }

    @Test
    void theVectorKernelsServeOnlyWhereC2CompilesAFusedMultiplyAdd() {
        Map<String, String> usual = Map.of("UseCompiler", "true", "TieredCompilation", "true", "TieredStopAtLevel", "4", "UseFMA", "true");
        assertNull(Sgemm.slowVectors(usual::get));
        assertNull(Sgemm.slowVectors(name -> null), "flags unknown (not HotSpot): the vector kernels");
        assertNull(Sgemm.slowVectors(with(usual, "TieredCompilation", "false", "TieredStopAtLevel", "1")), "C2 alone");
        assertTrue(Sgemm.slowVectors(with(usual, "UseFMA", "false")).contains("UseFMA is false"));
        assertTrue(Sgemm.slowVectors(with(usual, "TieredStopAtLevel", "1")).contains("C1 only (-XX:TieredStopAtLevel=1)"));
        assertTrue(Sgemm.slowVectors(with(usual, "UseCompiler", "false", "TieredCompilation", "false")).contains("-Xint"));
    }

    /**
     * The choice as JVMs started with these options make it: the vector kernels where the JVM's
     * flags give no reason against them (on a CPU with FMA, the usual flags), the scalar ones
     * without a fused multiply-add or with C1 alone, where the Vector API's kernels run hundreds of
     * times (without FMA) or tens of times (C1) slower than the scalar ones.
     */
    @Test
    void aJvmThatCannotCompileTheVectorKernelsRunsTheScalarOnes() throws Exception {
        String[] usual = kernelChoice();
        assertEquals(usual[1].equals("none") ? "true" : "false", usual[0], "the usual flags: " + usual[1]);
        assertEquals("false", kernelChoice("-XX:-UseFMA")[0]);
        assertEquals("false", kernelChoice("-XX:TieredStopAtLevel=1")[0]);
        assertEquals("true", kernelChoice("-XX:-UseFMA", "-Dcnn4j.vector=force")[0], "forced, for benchmarks");
        assertEquals("false", kernelChoice("-Dcnn4j.vector=no")[0]);
        assertEquals("false", kernelChoice("-XX:MaxVectorSize=8")[0], "vectors of 2 floats");
    }

    /** Sgemm.VECTOR and the reason against the vector kernels (or "none") in a fresh JVM with these options. */
    private static String[] kernelChoice(String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "--add-modules",
                "jdk.incubator.vector"));
        command.addAll(List.of(options));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), KernelChoice.class.getName()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, child.waitFor(), out);
        Matcher m = Pattern.compile("VECTOR=(true|false) SLOW=(.*)").matcher(out);
        assertTrue(m.find(), () -> String.join(" ", options) + ": " + out);
        return new String[] {m.group(1), m.group(2)};
    }

    /** Prints Sgemm.VECTOR and the reason against the vector kernels, for {@link #kernelChoice}. */
    static final class KernelChoice {
        public static void main(String[] args) {
            String slow = Sgemm.slowVectors(Sgemm::hotSpotFlag);
            System.out.println("VECTOR=" + Sgemm.VECTOR + " SLOW=" + (slow == null ? "none" : slow));
        }
    }

    private static UnaryOperator<String> with(Map<String, String> flags, String... changes) {
        Map<String, String> changed = new HashMap<>(flags);
        for (int i = 0; i < changes.length; i += 2) changed.put(changes[i], changes[i + 1]);
        return changed::get;
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
