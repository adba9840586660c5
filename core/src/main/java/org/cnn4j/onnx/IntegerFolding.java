package org.cnn4j.onnx;

import java.util.Arrays;

/**
 * The arithmetic of small int64 constants (shapes, axes, pads) that an exporter computes in the
 * graph instead of writing them: PyTorch 1.13 writes {@code F.pad}'s pads as {@code ConstantOfShape
 * → Concat → Reshape(−1, 2) → Slice(step −1) → Transpose → Reshape(−1) → Cast}. Values are kept
 * row-major with their dimensions; each operation follows the ONNX operator's definition and throws
 * IllegalArgumentException, naming the problem, for arguments the definition does not allow or for
 * results of more than {@code limit} values.
 */
final class IntegerFolding {
    /** A constant: its values, row-major, and its dimensions. */
    record Ints(long[] values, long[] dims) {
        Ints {
            if (count(dims) != values.length) throw new IllegalArgumentException(values.length + " values for dimensions " + Arrays.toString(dims));
        }

        /** A 1-D constant. */
        static Ints of(long... values) {
            return new Ints(values, new long[] {values.length});
        }
    }

    private IntegerFolding() {
    }

    /** The product of the dimensions (1 for a scalar); -1 for a negative dimension or a product past 2^31. */
    static long count(long[] dims) {
        long n = 1;
        for (long d : dims) {
            if (d < 0 || (d > 0 && n > Integer.MAX_VALUE / d)) return -1;
            n *= d;
        }
        return n;
    }

    /** ConstantOfShape: a tensor of the given shape, each value {@code value}. */
    static Ints constantOfShape(long[] shape, long value, int limit) {
        long n = count(shape);
        if (n < 0 || n > limit) throw new IllegalArgumentException("a shape of " + Arrays.toString(shape) + " (at most " + limit + " values)");
        long[] v = new long[(int) n];
        Arrays.fill(v, value);
        return new Ints(v, shape.clone());
    }

    /**
     * Reshape: the same values in {@code target}'s shape, where −1 stands for what the others leave
     * and 0 copies the input's dimension (unless {@code allowZero}).
     */
    static Ints reshape(Ints data, long[] target, boolean allowZero) {
        long[] dims = target.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == 0 && !allowZero) {
                if (i >= data.dims().length) throw new IllegalArgumentException("shape " + Arrays.toString(target) + " copies dimension " + i + " of " + Arrays.toString(data.dims()));
                dims[i] = data.dims()[i];
            }
            if (dims[i] == -1) {
                if (inferred >= 0) throw new IllegalArgumentException("shape " + Arrays.toString(target) + " has more than one -1");
                inferred = i;
            } else if (dims[i] < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(target) + " has a negative dimension");
            } else {
                known *= dims[i];
                if (known > data.values().length) break;
            }
        }
        if (inferred >= 0 && known > 0 && data.values().length % known == 0) dims[inferred] = data.values().length / known;
        if (count(dims) != data.values().length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(target) + " does not hold the " + data.values().length + " values of " + Arrays.toString(data.dims()));
        }
        return new Ints(data.values(), dims);
    }

    /** Concat along {@code axis}: the inputs, equal in every other dimension, joined (a scalar as one value). */
    static Ints concat(Ints[] given, long axis, int limit) {
        Ints[] parts = given.clone();
        for (int i = 0; i < parts.length; i++) if (parts[i].dims().length == 0) parts[i] = Ints.of(parts[i].values());
        int rank = parts[0].dims().length;
        int a = (int) (axis < 0 ? axis + rank : axis);
        if (a < 0 || a >= rank) throw new IllegalArgumentException("axis " + axis + " of a rank-" + rank + " value");
        long[] dims = parts[0].dims().clone();
        dims[a] = 0;
        for (Ints p : parts) {
            boolean same = p.dims().length == rank;
            for (int i = 0; same && i < rank; i++) same = i == a || p.dims()[i] == dims[i];
            if (!same) throw new IllegalArgumentException("values of shapes " + Arrays.toString(parts[0].dims()) + " and " + Arrays.toString(p.dims()) + " along axis " + axis);
            dims[a] += p.dims()[a];
        }
        long n = count(dims);
        if (n < 0 || n > limit) throw new IllegalArgumentException(Arrays.toString(dims) + " values (at most " + limit + ")");
        long outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= dims[i];
        for (int i = a + 1; i < rank; i++) inner *= dims[i];
        long[] v = new long[(int) n];
        int at = 0;
        for (long o = 0; o < outer; o++) {
            for (Ints p : parts) {
                int run = (int) (p.dims()[a] * inner);
                System.arraycopy(p.values(), (int) (o * run), v, at, run);
                at += run;
            }
        }
        return new Ints(v, dims);
    }

    /**
     * Slice: along each of {@code axes} (null: the first starts.length axes), the elements from
     * start towards end by step (null: steps of 1), the bounds clamped as ONNX defines them
     * (negative ones counted from the end, so that step −1 from −1 to INT64_MIN reverses).
     */
    static Ints slice(Ints data, long[] starts, long[] ends, long[] axes, long[] steps) {
        int rank = data.dims().length;
        if (ends.length != starts.length || (axes != null && axes.length != starts.length) || (steps != null && steps.length != starts.length)) {
            throw new IllegalArgumentException("starts, ends, axes and steps of different lengths");
        }
        long[] first = new long[rank], step = new long[rank], dims = data.dims().clone();
        Arrays.fill(step, 1);
        boolean[] seen = new boolean[rank];
        for (int i = 0; i < starts.length; i++) {
            long axis = axes == null ? i : axes[i];
            int a = (int) (axis < 0 ? axis + rank : axis);
            if (a < 0 || a >= rank || seen[a]) throw new IllegalArgumentException("axis " + axis + " of a rank-" + rank + " value, or twice");
            seen[a] = true;
            long s = steps == null ? 1 : steps[i], d = data.dims()[a];
            if (s == 0) throw new IllegalArgumentException("a step of 0");
            if (d == 0) continue; // nothing to take
            long from = starts[i] < 0 ? starts[i] + d : starts[i], to = ends[i] < 0 ? ends[i] + d : ends[i];
            if (s > 0) {
                from = Math.clamp(from, 0, d);
                to = Math.clamp(to, 0, d);
                dims[a] = to > from ? (to - from + s - 1) / s : 0;
            } else {
                from = Math.clamp(from, 0, d - 1);
                to = Math.clamp(to, -1, d - 1);
                dims[a] = from > to ? (from - to - s - 1) / -s : 0;
            }
            first[a] = from;
            step[a] = s;
        }
        long[] v = new long[(int) count(dims)], index = new long[rank];
        for (int out = 0; out < v.length; out++) {
            long at = 0;
            for (int a = 0; a < rank; a++) at = at * data.dims()[a] + first[a] + index[a] * step[a];
            v[out] = data.values()[(int) at];
            for (int a = rank - 1; a >= 0 && ++index[a] == dims[a]; a--) index[a] = 0;
        }
        return new Ints(v, dims);
    }

    /** Transpose: dimension i of the result is dimension perm[i] of the input (null: reversed). */
    static Ints transpose(Ints data, long[] perm) {
        int rank = data.dims().length;
        long[] p = perm;
        if (p == null) {
            p = new long[rank];
            for (int i = 0; i < rank; i++) p[i] = rank - 1 - i;
        }
        boolean[] seen = new boolean[rank];
        if (p.length != rank) throw new IllegalArgumentException("perm " + Arrays.toString(perm) + " of a rank-" + rank + " value");
        for (long x : p) {
            if (x < 0 || x >= rank || seen[(int) x]) throw new IllegalArgumentException("perm " + Arrays.toString(perm) + " of a rank-" + rank + " value");
            seen[(int) x] = true;
        }
        long[] dims = new long[rank], strides = new long[rank], index = new long[rank];
        for (int a = rank - 1, s = 1; a >= 0; s *= (int) data.dims()[a], a--) strides[a] = s;
        for (int i = 0; i < rank; i++) dims[i] = data.dims()[(int) p[i]];
        long[] v = new long[data.values().length];
        for (int out = 0; out < v.length; out++) {
            long at = 0;
            for (int i = 0; i < rank; i++) at += index[i] * strides[(int) p[i]];
            v[out] = data.values()[(int) at];
            for (int i = rank - 1; i >= 0 && ++index[i] == dims[i]; i--) index[i] = 0;
        }
        return new Ints(v, dims);
    }
}
