package org.cnn4j.backend.cpu;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.function.UnaryOperator;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.sun.management.HotSpotDiagnosticMXBean;

/**
 * Single-precision matrix multiply on Java arrays: C = alpha·op(A)·op(B) + beta·C, row-major,
 * each matrix given as (array, offset, leading dimension).
 *
 * <p>Sizes: m rows of C, n columns of C, k the inner dimension. op(B) is packed, alpha folded in,
 * into blocks of {@link #KC} rows × {@link #NC} columns, one Java array per row. Each row of C is
 * copied into an accumulator array, takes eight rows of the block at a time,
 * {@code acc[j] += a0·b0[j] + … + a7·b7[j]}, and is copied back. Every array in that loop is read
 * and written at the same index j, which is what lets the JIT vectorise it (it cannot prove that
 * two offsets into possibly the same array do not overlap, and then falls back to scalar code,
 * several times slower). Every element of C is computed by one thread in one fixed order, so results
 * do not depend on the thread count.
 */
final class Sgemm {
    static final int KC = 128;
    static final int NC = 512;
    /** Rows of C per parallel task: a multiple of this. */
    private static final int ROWS_PER_TASK = 16;

    private static final Logger LOG = LoggerFactory.getLogger(Sgemm.class);

    /**
     * Why the scalar kernels serve, or null where {@link VectorSgemm}'s kernel and the other Vector
     * API kernels do: they need jdk.incubator.vector ({@code --add-modules jdk.incubator.vector}),
     * not to be turned off by {@code -Dcnn4j.vector=false}, and a JVM that compiles them to vector
     * instructions (see {@link #slowVectors}) in vectors of 4 floats or more (narrower ones run
     * slower than the scalar kernels). {@code -Dcnn4j.vector=force} skips the last two checks, for
     * benchmarks.
     */
    static final String SCALAR = scalarReason();
    /** Whether blocks run {@link VectorSgemm}'s kernel (and the other Vector API kernels run). */
    static final boolean VECTOR = SCALAR == null;

    private static final ThreadLocal<float[][]> PANEL = ThreadLocal.withInitial(() -> new float[KC][NC]);
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[NC]);

    private Sgemm() {
    }

    private static String scalarReason() {
        String setting = System.getProperty("cnn4j.vector", "true");
        boolean forced = setting.equalsIgnoreCase("force");
        if (!forced && !Boolean.parseBoolean(setting)) return "-Dcnn4j.vector=" + setting;
        int lanes;
        try {
            lanes = VectorSgemm.NR / 2;
        } catch (LinkageError e) {
            return "run with --add-modules jdk.incubator.vector for the Vector API kernels";
        }
        if (forced) return null;
        if (lanes < 4) return "the JVM's vectors hold fewer than 4 floats (-XX:MaxVectorSize below 16)";
        String slow = slowVectors(Sgemm::hotSpotFlag);
        if (slow != null) LOG.info("CPU kernels: the scalar ones, although the Vector API is there: {}", slow);
        return slow;
    }

    /**
     * Why this JVM would run the Vector API kernels slower than the scalar ones, or null where it
     * would not (or its flags are unknown), from HotSpot's flags as {@code flag} gives them (null
     * for one it does not know). Only C2 compiles the Vector API to vector instructions, and it
     * compiles a lane-wise fused multiply-add, which every kernel uses, only where the CPU has one
     * ({@code UseFMA}); otherwise each operation runs as a Java loop over the lanes, far slower than
     * the scalar kernels, which the JIT vectorises with whatever the CPU has.
     */
    static String slowVectors(UnaryOperator<String> flag) {
        if ("false".equals(flag.apply("UseCompiler"))) return "the JVM only interprets (-Xint)";
        String level = flag.apply("TieredStopAtLevel");
        if ("true".equals(flag.apply("TieredCompilation")) && level != null && level.matches("[0-3]")) {
            return "the JVM compiles with C1 only (-XX:TieredStopAtLevel=" + level + "), which leaves the Vector API to Java loops";
        }
        if ("false".equals(flag.apply("UseFMA"))) {
            return "the JVM has no fused multiply-add instruction (UseFMA is false: the CPU lacks FMA, or the virtual machine it runs"
                    + " in hides it), which the Vector API kernels need";
        }
        return null;
    }

    /** A HotSpot flag's value, or null where the JVM is not HotSpot, lacks jdk.management or has no such flag. */
    static String hotSpotFlag(String name) {
        try {
            return ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).getVMOption(name).getValue();
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** The scalar kernel, whatever {@link #VECTOR} says: the oracle of the vector one. */
    static void multiplyScalar(float[] c, int cOff, int ldc, float[] a, int aOff, int lda, boolean transA,
                               float[] b, int bOff, int ldb, boolean transB, int m, int n, int k, float alpha, float beta) {
        for (int j0 = 0; j0 < n; j0 += NC) {
            block(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB, 0, m, j0, Math.min(NC, n - j0), k, alpha, beta, false);
        }
    }

    /** Multiplies on the calling thread. */
    static void multiply(float[] c, int cOff, int ldc,
                         float[] a, int aOff, int lda, boolean transA,
                         float[] b, int bOff, int ldb, boolean transB,
                         int m, int n, int k, float alpha, float beta) {
        for (int j0 = 0; j0 < n; j0 += NC) {
            block(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB, 0, m, j0, Math.min(NC, n - j0), k, alpha, beta, VECTOR);
        }
    }

    /** Multiplies with the pool's threads, splitting C into blocks of rows and columns. */
    static void multiply(Parallel parallel, float[] c, int cOff, int ldc,
                         float[] a, int aOff, int lda, boolean transA,
                         float[] b, int bOff, int ldb, boolean transB,
                         int m, int n, int k, float alpha, float beta) {
        int colBlocks = (n + NC - 1) / NC;
        // Every task packs its own panel of B, so split the rows only as far as needed to give each
        // thread about two tasks: rows per task are a multiple of ROWS_PER_TASK, and all rows when
        // the column blocks alone are enough.
        int rowBlocksWanted = Math.max(1, (2 * parallel.threads() + colBlocks - 1) / colBlocks);
        int rowsPerTask = Math.max(ROWS_PER_TASK, (m + rowBlocksWanted - 1) / rowBlocksWanted / ROWS_PER_TASK * ROWS_PER_TASK);
        int rowBlocks = (m + rowsPerTask - 1) / rowsPerTask;
        long work = (long) m * n * k;
        if (parallel.threads() == 1 || work < 1 << 18 || rowBlocks * colBlocks == 1) {
            multiply(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB, m, n, k, alpha, beta);
            return;
        }
        parallel.forEach(rowBlocks * colBlocks, t -> {
            int i0 = (t / colBlocks) * rowsPerTask;
            int j0 = (t % colBlocks) * NC;
            block(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB,
                    i0, Math.min(m, i0 + rowsPerTask), j0, Math.min(NC, n - j0), k, alpha, beta, VECTOR);
        });
    }

    /** C[i0..i1, j0..j0+nc) over the whole inner dimension. */
    private static void block(float[] c, int cOff, int ldc,
                              float[] a, int aOff, int lda, boolean transA,
                              float[] b, int bOff, int ldb, boolean transB,
                              int i0, int i1, int j0, int nc, int k, float alpha, float beta, boolean vector) {
        for (int i = i0; i < i1; i++) {
            int row = cOff + i * ldc + j0;
            if (beta == 0f) {
                Arrays.fill(c, row, row + nc, 0f);
            } else if (beta != 1f) {
                for (int j = 0; j < nc; j++) c[row + j] *= beta;
            }
        }
        if (alpha == 0f || k == 0) return;
        if (vector) {
            VectorSgemm.accumulate(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB, i0, i1, j0, nc, k, alpha);
            return;
        }
        float[][] panel = PANEL.get();
        float[] acc = ACC.get();
        // a(i, p): element (i, p) of op(A); stepI and stepP are its strides.
        int stepI = transA ? 1 : lda;
        int stepP = transA ? lda : 1;
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = Math.min(KC, k - p0);
            pack(panel, b, bOff, ldb, transB, p0, kc, j0, nc, alpha);
            for (int i = i0; i < i1; i++) {
                int row = cOff + i * ldc + j0;
                int ai = aOff + i * stepI + p0 * stepP;
                System.arraycopy(c, row, acc, 0, nc);
                int p = 0;
                for (; p + 8 <= kc; p += 8) {
                    int at = ai + p * stepP;
                    eight(acc, panel, p, nc, a[at], a[at + stepP], a[at + 2 * stepP], a[at + 3 * stepP],
                            a[at + 4 * stepP], a[at + 5 * stepP], a[at + 6 * stepP], a[at + 7 * stepP]);
                }
                for (; p < kc; p++) {
                    float a0 = a[ai + p * stepP];
                    float[] b0 = panel[p];
                    for (int j = 0; j < nc; j++) acc[j] += a0 * b0[j];
                }
                System.arraycopy(acc, 0, c, row, nc);
            }
        }
    }

    /** acc[j] += Σ_{r<8} a_r · panel[p + r][j] for j < nc. */
    private static void eight(float[] acc, float[][] panel, int p, int nc,
                              float a0, float a1, float a2, float a3, float a4, float a5, float a6, float a7) {
        float[] b0 = panel[p], b1 = panel[p + 1], b2 = panel[p + 2], b3 = panel[p + 3];
        float[] b4 = panel[p + 4], b5 = panel[p + 5], b6 = panel[p + 6], b7 = panel[p + 7];
        for (int j = 0; j < nc; j++) {
            acc[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j] + a4 * b4[j] + a5 * b5[j] + a6 * b6[j] + a7 * b7[j];
        }
    }

    /** panel[p][j] = alpha · op(B)(p0 + p, j0 + j). */
    private static void pack(float[][] panel, float[] b, int bOff, int ldb, boolean transB,
                             int p0, int kc, int j0, int nc, float alpha) {
        for (int p = 0; p < kc; p++) {
            float[] dst = panel[p];
            if (!transB) {
                int src = bOff + (p0 + p) * ldb + j0;
                if (alpha == 1f) {
                    System.arraycopy(b, src, dst, 0, nc);
                } else {
                    for (int j = 0; j < nc; j++) dst[j] = alpha * b[src + j];
                }
            } else {
                int src = bOff + j0 * ldb + p0 + p;
                for (int j = 0; j < nc; j++) dst[j] = alpha * b[src + j * ldb];
            }
        }
    }
}
