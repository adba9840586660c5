package org.cnn4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import org.cnn4j.backend.Activation;

/**
 * Forward tanh, scaled tanh and sigmoid with the Vector API, from additions, multiplications,
 * fused multiply-adds, divisions and bit operations only (Cephes' float tanh and exp: a
 * polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above, e^t by range reduction to
 * [−ln 2 / 2, ln 2 / 2] and a degree-5 polynomial). Those operations round the same way whether
 * the JIT has compiled the loop or not, so a result never depends on when it was computed. The
 * Vector API's own TANH and EXP do not give that: compiled, they call the JDK's vector math
 * library, and before that they fall back to Math.tanh lane by lane, which differs in the last
 * bits for about 1% of inputs (seen as a bitwise mismatch between two identical convolutions +
 * scaled tanh, one run cold and one warm). {@link #tanhLane} and {@link #sigmoidLane} are the same
 * steps one value at a time: the specification the tests hold the vector code to, bit for bit.
 * Every element goes through the same vector operations (the last partial vector copied into a
 * small buffer), so a result does not depend on where the parallel loop splits the range either.
 *
 * <p>Loaded only when the JVM has jdk.incubator.vector (see {@link Sgemm#VECTOR}).
 */
final class VectorActivations {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float A = (float) Activation.SCALED_TANH_A, B = (float) Activation.SCALED_TANH_B;

    // Cephes tanhf: tanh(x) = x + x·z·P(z), z = x², for |x| < 0.625.
    private static final float SMALL = 0.625f;
    private static final float T0 = -5.70498872745e-3f, T1 = 2.06390887954e-2f, T2 = -5.37397155531e-2f, T3 = 1.33314422036e-1f,
            T4 = -3.33332819422e-1f;
    // Cephes expf: e^t = 2^n · e^r, n = floor(t·log2 e + 1/2), r = t − n·C1 − n·C2, e^r = 1 + r + r²·Q(r).
    private static final float LOG2E = 1.44269504088896341f, C1 = 0.693359375f, C2 = -2.12194440e-4f, EXP_LIMIT = 88f;
    private static final float Q0 = 1.9875691500e-4f, Q1 = 1.3981999507e-3f, Q2 = 8.3334519073e-3f, Q3 = 4.1665795894e-2f,
            Q4 = 1.6666665459e-1f, Q5 = 5.0000001201e-1f;

    private VectorActivations() {
    }

    /** Whether this class computes fn's forward pass. */
    static boolean serves(Activation fn) {
        return fn == Activation.TANH || fn == Activation.SCALED_TANH || fn == Activation.SIGMOID;
    }

    /** y[i] = fn(x[i]) for lo ≤ i < hi. */
    static void forward(Activation fn, float[] y, float[] x, int lo, int hi) {
        switch (fn.kind()) {
            case TANH -> forward(false, y, x, lo, hi, 1f, 1f);
            case SCALED_TANH -> forward(false, y, x, lo, hi, B, A);
            case SIGMOID -> forward(true, y, x, lo, hi, 1f, 1f);
            default -> throw new IllegalArgumentException("no vector kernel for " + fn);
        }
    }

    /**
     * y = outScale · tanh(inScale · x) lane by lane as {@link #tanhLane} (a scale of 1 changes
     * nothing), or with {@code sigmoid} y = 1 / (e^−x + 1) as {@link #sigmoidLane}. One method with
     * the exp written out once: helpers taking vectors are not always inlined, and then every vector
     * is boxed (a scaled tanh ran 5× slower so). The last partial vector goes through a small buffer,
     * the same operations on it.
     */
    private static void forward(boolean sigmoid, float[] y, float[] x, int lo, int hi, float inScale, float outScale) {
        float[] tail = null;
        for (int i = lo; i < hi; i += L) {
            boolean whole = i + L <= hi;
            if (!whole) {
                tail = new float[L];
                System.arraycopy(x, i, tail, 0, hi - i);
            }
            FloatVector v = FloatVector.fromArray(S, whole ? x : tail, whole ? i : 0).mul(inScale);
            FloatVector ax = v.abs();
            // e^t as expLane, for t = −x (sigmoid) or 2|x| (tanh)
            FloatVector c = (sigmoid ? v.neg() : ax.add(ax)).blend(0f, v.test(VectorOperators.IS_NAN)).max(-EXP_LIMIT).min(EXP_LIMIT);
            FloatVector fx = c.fma(LOG2E, 0.5f);
            FloatVector nf = (FloatVector) ((IntVector) fx.convert(VectorOperators.F2I, 0)).convert(VectorOperators.I2F, 0);
            nf = nf.sub(FloatVector.broadcast(S, 1f), nf.compare(VectorOperators.GT, fx));
            IntVector n = (IntVector) nf.convert(VectorOperators.F2I, 0);
            FloatVector r = c.sub(nf.mul(C1)).sub(nf.mul(C2)), rr = r.mul(r);
            FloatVector q = r.fma(Q0, Q1).fma(r, FloatVector.broadcast(S, Q2)).fma(r, FloatVector.broadcast(S, Q3))
                    .fma(r, FloatVector.broadcast(S, Q4)).fma(r, FloatVector.broadcast(S, Q5));
            FloatVector e = q.fma(rr, r).add(1f).mul(n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
            FloatVector out;
            if (sigmoid) {
                out = FloatVector.broadcast(S, 1f).div(e.add(1f));
            } else {
                FloatVector z = ax.mul(ax);
                FloatVector p = z.fma(T0, T1).fma(z, FloatVector.broadcast(S, T2)).fma(z, FloatVector.broadcast(S, T3))
                        .fma(z, FloatVector.broadcast(S, T4));
                FloatVector small = ax.mul(z).fma(p, ax);
                FloatVector large = FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(e.add(1f)));
                FloatVector t = large.blend(small, ax.compare(VectorOperators.LT, SMALL));
                out = t.reinterpretAsInts().and(0x7FFFFFFF).or(v.reinterpretAsInts().and(0x80000000)).reinterpretAsFloats();
            }
            out = out.blend(v, v.test(VectorOperators.IS_NAN)).mul(outScale);
            if (whole) {
                out.intoArray(y, i);
            } else {
                out.intoArray(tail, 0);
                System.arraycopy(tail, 0, y, i, hi - i);
            }
        }
    }

    /** One lane of the vector tanh: the same operations in the same order. */
    static float tanhLane(float x) {
        if (Float.isNaN(x)) return x;
        float ax = Math.abs(x), z = ax * ax;
        float p = Math.fma(Math.fma(Math.fma(Math.fma(z, T0, T1), z, T2), z, T3), z, T4);
        float small = Math.fma(ax * z, p, ax);
        float large = 1f - 2f / (expLane(ax + ax) + 1f);
        return Math.copySign(ax < SMALL ? small : large, x);
    }

    /** One lane of the vector e^t. */
    static float expLane(float t) {
        float c = Math.min(Math.max(Float.isNaN(t) ? 0f : t, -EXP_LIMIT), EXP_LIMIT);
        float fx = Math.fma(c, LOG2E, 0.5f);
        float nf = (int) fx;
        if (nf > fx) nf -= 1f;
        int n = (int) nf;
        float r = (c - nf * C1) - nf * C2;
        float z = r * r;
        float q = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, Q0, Q1), r, Q2), r, Q3), r, Q4), r, Q5);
        float er = Math.fma(q, z, r) + 1f;
        return er * Float.intBitsToFloat((n + 127) << 23);
    }

    /** One lane of the vector sigmoid. */
    static float sigmoidLane(float x) {
        return Float.isNaN(x) ? x : 1f / (expLane(-x) + 1f);
    }
}
