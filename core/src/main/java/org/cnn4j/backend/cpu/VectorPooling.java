package org.cnn4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import org.cnn4j.backend.PoolGeometry;

/**
 * {@link CpuPooling#maxForward2x2} with the Vector API: for each output row, a vector of L outputs
 * at a time. Their 2L inputs in each of the window's two input rows are two contiguous vector
 * loads, split into even and odd columns (the taps (·, 0) and (·, 1)) by a two-vector shuffle.
 * Lanes past the row's end read whatever follows (only a read at the array's very end is
 * masked) and are not stored. Each lane makes the scalar kernel's updates in its order, with the
 * same operations (the sign test on current − v, Math.max), so y and the mask are bitwise the
 * scalar kernel's.
 *
 * <p>Loaded only when the JVM has jdk.incubator.vector (see {@link Sgemm#VECTOR}).
 */
final class VectorPooling {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = S.withLanes(int.class);
    private static final int L = S.length();
    private static final VectorShuffle<Float> EVEN = VectorShuffle.fromOp(S, i -> 2 * i), ODD = VectorShuffle.fromOp(S, i -> 2 * i + 1);
    /** 0, 2, 4, …: the top-left tap's column offset in each lane. */
    private static final IntVector TWICE_IOTA = IntVector.zero(I).addIndex(2);

    private VectorPooling() {
    }

    /**
     * Whether rows are long enough to fill half a vector: fmnist-cnn's pool1 (13 outputs a row)
     * went from 4.3-5.2 to 2.3-3.1 ms; pool2 (5 a row, 16 lanes) gained nothing over the scalar kernel.
     */
    static boolean pays(PoolGeometry g) {
        return 2 * g.q() >= L;
    }

    /** Planes lo … hi−1 of plain 2×2 max pooling. */
    static void maxForward2x2(float[] y, int[] mask, float[] x, int lo, int hi, PoolGeometry g) {
        int w = g.w(), hw = g.h() * w, p = g.p(), q = g.q(), pq = p * q;
        for (int plane = lo; plane < hi; plane++) {
            int in = plane * hw, out = plane * pq;
            for (int op = 0; op < p; op++) {
                int top = 2 * op * w;
                for (int oq = 0; oq < q; oq += L) {
                    int at = in + top + 2 * oq, o = out + op * q + oq;
                    FloatVector a0 = load(x, at), a1 = load(x, at + L), b0 = load(x, at + w), b1 = load(x, at + w + L);
                    IntVector i00 = TWICE_IOTA.add(top + 2 * oq);
                    FloatVector best = a0.rearrange(EVEN, a1);
                    IntVector idx = i00;
                    // Taps (0,1), (1,0), (1,1) in row-major order, each winning only when strictly greater:
                    // best − v negative and not ±0 (a NaN with the sign bit set counts, as in the
                    // scalar kernel). Written out three times: as a method, C2 would not inline it
                    // (NodeCountInliningCutoff) and every vector would be boxed.
                    FloatVector v = a0.rearrange(ODD, a1);
                    IntVector bits = best.sub(v).reinterpretAsInts();
                    idx = idx.blend(i00.add(1), bits.compare(VectorOperators.LT, 0).and(bits.and(0x7FFFFFFF).compare(VectorOperators.NE, 0)));
                    best = best.max(v);
                    v = b0.rearrange(EVEN, b1);
                    bits = best.sub(v).reinterpretAsInts();
                    idx = idx.blend(i00.add(w), bits.compare(VectorOperators.LT, 0).and(bits.and(0x7FFFFFFF).compare(VectorOperators.NE, 0)));
                    best = best.max(v);
                    v = b0.rearrange(ODD, b1);
                    bits = best.sub(v).reinterpretAsInts();
                    idx = idx.blend(i00.add(w + 1), bits.compare(VectorOperators.LT, 0).and(bits.and(0x7FFFFFFF).compare(VectorOperators.NE, 0)));
                    best = best.max(v);
                    if (oq + L <= q) {
                        best.intoArray(y, o);
                        idx.intoArray(mask, o);
                    } else {
                        VectorMask<Float> m = S.indexInRange(oq, q);
                        best.intoArray(y, o, m);
                        idx.intoArray(mask, o, m.cast(I));
                    }
                }
            }
        }
    }

    /** L values from x[at], the lanes past the array's end (only ever unused ones) masked off. */
    private static FloatVector load(float[] x, int at) {
        return at + L <= x.length ? FloatVector.fromArray(S, x, at) : FloatVector.fromArray(S, x, at, S.indexInRange(at, x.length));
    }
}
