package org.cnn4j.backend;

import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Argument checks shared by the backends: each operation states the shapes it expects, and a
 * mismatch fails with the operation, the argument and both shapes, before any element is touched.
 */
public final class Check {
    private Check() {
    }

    public static void shape(String op, String arg, Tensor t, Shape expected) {
        if (t == null) throw new IllegalArgumentException(op + ": " + arg + " is null, expected shape " + expected);
        if (!t.shape().equals(expected)) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + t.shape() + ", expected " + expected);
        }
    }

    public static void sameSize(String op, String arg, Tensor t, Tensor like) {
        if (t.size() != like.size()) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + t.shape() + " (" + t.size()
                    + " elements), expected " + like.size() + " elements like " + like.shape());
        }
    }

    public static void dtype(String op, String arg, Tensor t, DType expected) {
        if (t.dtype() != expected) {
            throw new IllegalArgumentException(op + ": " + arg + " holds " + t.dtype() + ", expected " + expected);
        }
    }

    /** Images (n, c, h, w) of the geometry's c, h, w; returns n. */
    public static int images(String op, String arg, Tensor t, int c, int h, int w) {
        Shape s = t.shape();
        if (s.rank() != 4 || s.dim(1) != c || s.dim(2) != h || s.dim(3) != w) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + s + ", expected (n, " + c + ", " + h + ", " + w + ")");
        }
        return s.dim(0);
    }

    /** A 2-D (n, classes) matrix view; returns n. */
    public static int rowsOf(String op, String arg, Tensor t) {
        if (t.shape().rank() < 2) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + t.shape() + ", expected (n, classes)");
        }
        return t.shape().rows();
    }

    /** The sizes of c = op(a)·op(b): {m, n, k}, after checking that a, b and c fit together. */
    public static int[] gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c) {
        int aRows = a.shape().rows(), aCols = a.shape().columns();
        int bRows = b.shape().rows(), bCols = b.shape().columns();
        int m = transA ? aCols : aRows, k = transA ? aRows : aCols;
        int kb = transB ? bCols : bRows, n = transB ? bRows : bCols;
        if (k != kb || c.shape().rows() != m || c.shape().columns() != n) {
            throw new IllegalArgumentException("gemm: op(a) is " + m + "x" + k + " (a " + a.shape() + (transA ? "ᵀ" : "")
                    + "), op(b) is " + kb + "x" + n + " (b " + b.shape() + (transB ? "ᵀ" : "") + "), c is " + c.shape());
        }
        return new int[] {m, n, k};
    }

    public static void labels(String op, int[] labels, int offset, int n, int classes) {
        for (int i = 0; i < n; i++) {
            int label = labels[offset + i];
            if (label < 0 || label >= classes) {
                throw new IllegalArgumentException(op + ": label " + label + " at batch index " + i
                        + " is outside the " + classes + " classes [0, " + classes + ")");
            }
        }
    }

    public static void conv(String op, Tensor y, Tensor x, Tensor w, ConvGeometry g) {
        int n = images(op, "x", x, g.c(), g.h(), g.w());
        shape(op, "w", w, Shape.of(g.k(), g.c(), g.r(), g.s()));
        shape(op, "y", y, Shape.of(n, g.k(), g.p(), g.q()));
    }

    public static void pool(String op, Tensor y, Tensor x, PoolGeometry g) {
        if (!g.undilated() && !op.startsWith("maxPool")) throw new IllegalArgumentException(op + ": taps apart (dilation) are max pooling's only, got " + g);
        int n = images(op, "x", x, g.c(), g.h(), g.w());
        shape(op, "y", y, Shape.of(n, g.c(), g.p(), g.q()));
    }

    /** Subsampling: y and x as for pooling, beta and b one value per channel (dy in place of y when backward). */
    public static void subsample(String op, Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g) {
        pool(op, y, x, g);
        shape(op, "beta", beta, Shape.of(g.c()));
        shape(op, "b", b, Shape.of(g.c()));
    }

    /** Map combinations: k (out, in, r, s), c and alpha (out, in), wEff like k. */
    public static void combination(String op, Tensor k, Tensor alpha, Tensor c, Tensor wEff) {
        if (k.shape().rank() != 4) throw new IllegalArgumentException(op + ": k has shape " + k.shape() + ", expected (out, in, r, s)");
        Shape mix = Shape.of(k.shape().dim(0), k.shape().dim(1));
        shape(op, "alpha", alpha, mix);
        shape(op, "c", c, mix);
        shape(op, "wEff", wEff, k.shape());
    }

    /** A loss over (n, values) predictions: per-sample loss (n), targets of the given shape, optional gradient like y; returns n. */
    public static int loss(String op, Tensor loss, Tensor dy, Tensor y, Tensor target, Shape targetShape) {
        int n = rowsOf(op, "prediction", y);
        shape(op, "target", target, targetShape);
        shape(op, "loss", loss, Shape.of(n));
        if (dy != null) shape(op, "gradient", dy, y.shape());
        return n;
    }

    /** A step log (rows, 2) and INT32 cursor (1) for losses (n), logits (n, classes) and INT32 labels (n) or null; returns n. */
    public static int stepLog(Tensor log, Tensor cursor, Tensor loss, Tensor logits, Tensor labels) {
        String op = "recordStep";
        int n = rowsOf(op, "logits", logits);
        if (log.shape().rank() != 2 || log.shape().columns() != 2) {
            throw new IllegalArgumentException(op + ": log has shape " + log.shape() + ", expected (steps, 2)");
        }
        shape(op, "cursor", cursor, Shape.of(1));
        dtype(op, "cursor", cursor, DType.INT32);
        shape(op, "loss", loss, Shape.of(n));
        if (labels != null) {
            shape(op, "labels", labels, Shape.of(n));
            dtype(op, "labels", labels, DType.INT32);
        }
        return n;
    }

    /**
     * The (n, c, spatial) of a batch normalisation of x (n, c, …) with per-channel tensors of c
     * values; y (or dx) and dy, where given, shaped like x.
     */
    public static int[] batchNorm(String op, Tensor y, Tensor x, Tensor... perChannel) {
        if (x.shape().rank() < 2) throw new IllegalArgumentException(op + ": x " + x.shape() + " has no channel dimension");
        int n = x.shape().dim(0), c = x.shape().dim(1);
        if (y != null) sameSize(op, "y", y, x);
        for (Tensor t : perChannel) {
            if (t.size() != c) throw new IllegalArgumentException(op + ": a per-channel tensor of shape " + t.shape() + " for " + c + " channels of x " + x.shape());
        }
        return new int[] {n, c, x.size() / (n * c)};
    }

    /** {n, c of y, c' of x, spatial} for {@link Backend#copyChannels}, after checking that x fits channels [offset, offset + c') of y. */
    /**
     * Checks {@link Backend#padPlanes}'s operands: x (n, c, h, w) inside y (n, c, h', w') at (top,
     * left); returns {planes, h, w, h', w'}.
     */
    public static int[] planes(String op, Tensor y, Tensor x, int top, int left) {
        Shape ys = y.shape(), xs = x.shape();
        if (ys.rank() != 4 || xs.rank() != 4 || ys.dim(0) != xs.dim(0) || ys.dim(1) != xs.dim(1) || top < 0 || left < 0
                || (long) top + xs.dim(2) > ys.dim(2) || (long) left + xs.dim(3) > ys.dim(3)) {
            throw new IllegalArgumentException(op + ": x " + xs + " does not fit inside y " + ys + " at (" + top + ", " + left + ")");
        }
        return new int[] {ys.dim(0) * ys.dim(1), xs.dim(2), xs.dim(3), ys.dim(2), ys.dim(3)};
    }

    public static int[] channels(String op, Tensor y, Tensor x, int offset) {
        if (y.shape().rank() < 2 || x.shape().rank() != y.shape().rank() || x.shape().dim(0) != y.shape().dim(0)) {
            throw new IllegalArgumentException(op + ": x " + x.shape() + " and y " + y.shape() + " are not batches of one rank and size");
        }
        int n = y.shape().dim(0), c = y.shape().dim(1), cx = x.shape().dim(1);
        int spatial = y.size() / (n * c);
        if (x.size() != n * cx * spatial || offset < 0 || offset + cx > c) {
            throw new IllegalArgumentException(op + ": x " + x.shape() + " does not fit channels " + offset + ".." + (offset + cx) + " of y " + y.shape());
        }
        return new int[] {n, c, cx, spatial};
    }
}
