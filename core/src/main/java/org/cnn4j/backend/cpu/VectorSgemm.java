package org.cnn4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The block kernel of {@link Sgemm} with the Vector API: op(A) packed into strips of {@link #MR}
 * rows and op(B) (alpha folded in) into strips of {@code NR} = two vectors of columns, then a
 * register-blocked micro-kernel keeps an MR×NR tile of C in eight vector registers and does eight
 * fused multiply-adds per step of the inner dimension, two vector loads and four broadcasts
 * feeding them. Each element of C is still summed by one thread in one fixed order (over p), so
 * results do not depend on the thread count; fused multiply-adds round once per step, so they
 * differ from the scalar kernel's in the last bits.
 *
 * <p>Loaded only when the JVM runs with {@code --add-modules jdk.incubator.vector}; otherwise
 * {@link Sgemm} keeps its scalar kernel, which is also the oracle this one is tested against.
 */
final class VectorSgemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    static final int MR = 4, NR = 2 * L;

    /** Per thread: packed A (rows × KC), packed B (KC × NC), and one C tile. */
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[][] {
            new float[roundUp(64, MR) * Sgemm.KC], new float[Sgemm.KC * roundUp(Sgemm.NC, NR)], new float[MR * NR]});

    private VectorSgemm() {
    }

    static int roundUp(int v, int to) {
        return (v + to - 1) / to * to;
    }

    /** C[i0..i1, j0..j0+nc) += op(A)·(alpha·op(B)) over the whole inner dimension; beta already applied by the caller. */
    static void accumulate(float[] c, int cOff, int ldc, float[] a, int aOff, int lda, boolean transA,
                           float[] b, int bOff, int ldb, boolean transB, int i0, int i1, int j0, int nc, int k, float alpha) {
        float[][] buffers = BUFFERS.get();
        int mc = i1 - i0, mStrips = (mc + MR - 1) / MR, nStrips = (nc + NR - 1) / NR;
        if (buffers[0].length < mStrips * MR * Sgemm.KC) buffers[0] = new float[mStrips * MR * Sgemm.KC];
        float[] packedA = buffers[0], packedB = buffers[1];
        for (int p0 = 0; p0 < k; p0 += Sgemm.KC) {
            int kc = Math.min(Sgemm.KC, k - p0);
            packB(packedB, b, bOff, ldb, transB, p0, kc, j0, nc, nStrips, alpha);
            packA(packedA, a, aOff, lda, transA, p0, kc, i0, mc, mStrips);
            tiles(c, cOff + i0 * ldc + j0, ldc, packedA, packedB, 0, kc, mc, nc, buffers[2]);
        }
    }

    /**
     * C (m×n) += op(A)·B with B packed already, all n columns at once, as {@link #packB} would:
     * panel p0 (every {@link Sgemm#KC} rows of B) at p0·{@link #paddedWidth}(n), its strip s at
     * s·kc·NR. A producer that writes B in this layout in the first place saves writing it plainly and
     * packing it again (the im2col filter gradient does). The sums run as in {@link #accumulate}.
     */
    static void accumulatePacked(float[] c, int cOff, int ldc, float[] a, int aOff, int lda, boolean transA, float[] packedB, int m,
                                 int n, int k) {
        float[][] buffers = BUFFERS.get();
        int mStrips = (m + MR - 1) / MR;
        if (buffers[0].length < mStrips * MR * Sgemm.KC) buffers[0] = new float[mStrips * MR * Sgemm.KC];
        float[] packedA = buffers[0];
        for (int p0 = 0; p0 < k; p0 += Sgemm.KC) {
            int kc = Math.min(Sgemm.KC, k - p0);
            packA(packedA, a, aOff, lda, transA, p0, kc, 0, m, mStrips);
            tiles(c, cOff, ldc, packedA, packedB, p0 * paddedWidth(n), kc, m, n, buffers[2]);
        }
    }

    /** Columns of a packed B panel for n columns: whole strips. */
    static int paddedWidth(int n) {
        return roundUp(n, NR);
    }

    /** C[0..mc, 0..nc) at cAt += packed A (mc × kc) · the packed B panel at bAt (kc × nc), tile by tile. */
    private static void tiles(float[] c, int cAt, int ldc, float[] packedA, float[] packedB, int bAt, int kc, int mc, int nc, float[] tile) {
        int mStrips = (mc + MR - 1) / MR, nStrips = (nc + NR - 1) / NR;
        for (int js = 0; js < nStrips; js++) {
            int cols = Math.min(NR, nc - js * NR);
            for (int is = 0; is < mStrips; is++) {
                int rows = Math.min(MR, mc - is * MR);
                int row = cAt + is * MR * ldc + js * NR;
                if (rows == MR && cols == NR) {
                    kernel(packedA, is * MR * kc, packedB, bAt + js * NR * kc, kc, c, row, ldc);
                } else {
                    java.util.Arrays.fill(tile, 0f);
                    kernel(packedA, is * MR * kc, packedB, bAt + js * NR * kc, kc, tile, 0, NR);
                    for (int r = 0; r < rows; r++) {
                        for (int j = 0; j < cols; j++) c[row + r * ldc + j] += tile[r * NR + j];
                    }
                }
            }
        }
    }

    /** c[row + r·ldc + j] += Σ_p a(r, p)·b(p, j) for the MR×NR tile; a and b packed strips. */
    private static void kernel(float[] a, int aAt, float[] b, int bAt, int kc, float[] c, int row, int ldc) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bAt + p * NR), b1 = FloatVector.fromArray(S, b, bAt + p * NR + L);
            int ap = aAt + p * MR;
            FloatVector a0 = FloatVector.broadcast(S, a[ap]), a1 = FloatVector.broadcast(S, a[ap + 1]);
            FloatVector a2 = FloatVector.broadcast(S, a[ap + 2]), a3 = FloatVector.broadcast(S, a[ap + 3]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
        }
        add(c, row, c00, c01);
        add(c, row + ldc, c10, c11);
        add(c, row + 2 * ldc, c20, c21);
        add(c, row + 3 * ldc, c30, c31);
    }

    private static void add(float[] c, int at, FloatVector lo, FloatVector hi) {
        FloatVector.fromArray(S, c, at).add(lo).intoArray(c, at);
        FloatVector.fromArray(S, c, at + L).add(hi).intoArray(c, at + L);
    }

    /** packedA[(strip·kc + p)·MR + r] = op(A)(i0 + strip·MR + r, p0 + p), zero past the last row. */
    private static void packA(float[] dst, float[] a, int aOff, int lda, boolean transA, int p0, int kc, int i0, int mc, int strips) {
        int stepI = transA ? 1 : lda, stepP = transA ? lda : 1;
        for (int s = 0; s < strips; s++) {
            for (int r = 0; r < MR; r++) {
                int i = s * MR + r;
                int out = s * MR * kc + r;
                if (i >= mc) {
                    for (int p = 0; p < kc; p++) dst[out + p * MR] = 0f;
                    continue;
                }
                int src = aOff + (i0 + i) * stepI + p0 * stepP;
                for (int p = 0; p < kc; p++) dst[out + p * MR] = a[src + p * stepP];
            }
        }
    }

    /** packedB[(strip·kc + p)·NR + j] = alpha·op(B)(p0 + p, j0 + strip·NR + j), zero past the last column. */
    private static void packB(float[] dst, float[] b, int bOff, int ldb, boolean transB, int p0, int kc, int j0, int nc, int strips,
                              float alpha) {
        for (int s = 0; s < strips; s++) {
            int cols = Math.min(NR, nc - s * NR);
            if (transB) {
                // op(B) = Bᵀ: each of the strip's columns is a contiguous run of a row of B, so read
                // along it and write down the strip (L1-resident), rather than gather a row at a time
                for (int j = 0; j < NR; j++) {
                    int out = s * kc * NR + j;
                    if (j >= cols) {
                        for (int p = 0; p < kc; p++) dst[out + p * NR] = 0f;
                        continue;
                    }
                    int src = bOff + (j0 + s * NR + j) * ldb + p0;
                    for (int p = 0; p < kc; p++) dst[out + p * NR] = alpha * b[src + p];
                }
                continue;
            }
            for (int p = 0; p < kc; p++) {
                int out = (s * kc + p) * NR, src = bOff + (p0 + p) * ldb + j0 + s * NR;
                if (cols == NR) {
                    // a whole strip row: two vector copies (the scalar loop cost a fifth of a 64-row product)
                    FloatVector.fromArray(S, b, src).mul(alpha).intoArray(dst, out);
                    FloatVector.fromArray(S, b, src + L).mul(alpha).intoArray(dst, out + L);
                    continue;
                }
                for (int j = 0; j < cols; j++) dst[out + j] = alpha * b[src + j];
                for (int j = cols; j < NR; j++) dst[out + j] = 0f;
            }
        }
    }
}
