package org.cnn4j.backend;

/**
 * The shape arithmetic of 2-D pooling and subsampling over (n, c, h, w): windows of
 * {@code windowH × windowW} placed every {@code strideH, strideW}, after {@code padH, padW} of
 * padding at the top and left and {@code padBottom, padRight} at the bottom and right (the same,
 * but where an ONNX file pads its sides differently); output {@code p = floor((h + padH +
 * padBottom − span) / strideH) + 1} with span = dilationH·(windowH − 1) + 1, the rows a window
 * reaches (a max pooling's taps may be {@code dilationH, dilationW} apart, as PyTorch's; other
 * poolings' are adjacent) (as PyTorch with
 * {@code ceil_mode=False}), or with {@code ceil} the ceiling, less one where the last window would
 * start in the bottom padding (PyTorch's {@code ceil_mode=True}): the last row and column of
 * windows may then reach past the padded input, and a window may be larger than it by less than a
 * stride (one window, holding all of it). Windows may overlap (stride &lt; window); rows and
 * columns that no window reaches get a zero gradient. Padding never wins a max, and counts in an
 * average's divisor (PyTorch's {@code count_include_pad=True}); what lies past the padding never
 * counts (see {@link #divisor}).
 */
public record PoolGeometry(int c, int h, int w, int windowH, int windowW, int strideH, int strideW, int padH, int padW,
                           int padBottom, int padRight, int dilationH, int dilationW, boolean ceil) {

    public PoolGeometry {
        if (c < 1 || h < 1 || w < 1 || windowH < 1 || windowW < 1 || strideH < 1 || strideW < 1 || dilationH < 1 || dilationW < 1
                || (long) dilationH * (windowH - 1) >= 1 << 20 || (long) dilationW * (windowW - 1) >= 1 << 20) {
            throw new IllegalArgumentException("pooling sizes must be positive: c=" + c + " h=" + h + " w=" + w
                    + " window " + windowH + "x" + windowW + " stride " + strideH + "x" + strideW + " dilation " + dilationH + "x" + dilationW);
        }
        // at most half the window (PyTorch's rule), so that every window of adjacent taps holds an input
        if (Math.min(Math.min(padH, padW), Math.min(padBottom, padRight)) < 0 || Math.max(padH, padBottom) > windowH / 2
                || Math.max(padW, padRight) > windowW / 2) {
            throw new IllegalArgumentException("pooling padding must be between 0 and half the window: pad "
                    + (padH == padBottom && padW == padRight ? padH + "x" + padW : "top " + padH + " left " + padW + " bottom " + padBottom + " right " + padRight)
                    + " for a " + windowH + "x" + windowW + " window");
        }
        // in ceil mode a window may reach past both ends of the padded input, by less than a stride (PyTorch's rule)
        int overhangH = ceil ? strideH - 1 : 0, overhangW = ceil ? strideW - 1 : 0;
        if ((long) h + padH + padBottom + overhangH < (long) dilationH * (windowH - 1) + 1
                || (long) w + padW + padRight + overhangW < (long) dilationW * (windowW - 1) + 1) {
            throw new IllegalArgumentException("a " + windowH + "x" + windowW + " window does not fit an input of "
                    + h + "x" + w + " with padding " + padH + "x" + padW);
        }
        // taps apart may step over a small input from the padding: such a window would pool nothing
        int row = emptyWindow(h, strideH, padH, padBottom, windowH, dilationH, ceil), column = emptyWindow(w, strideW, padW, padRight, windowW, dilationW, ceil);
        if (row >= 0 || column >= 0) {
            throw new IllegalArgumentException("a " + windowH + "x" + windowW + " window with taps " + dilationH + "x" + dilationW
                    + " apart holds no input of " + h + "x" + w + " at output " + (row >= 0 ? "row " + row : "column " + column)
                    + " (padding " + padH + "x" + padW + ")");
        }
    }

    /**
     * The first output along one side whose window has no tap inside the input, or -1. Only a window
     * that starts in the padding can miss it (any other has its first tap inside); with adjacent taps
     * and padding at most half the window, none does.
     */
    private static int emptyWindow(int in, int stride, int pad, int padEnd, int window, int dilation, boolean ceil) {
        int out = outSize(in, dilation * (window - 1) + 1, stride, pad, padEnd, ceil);
        for (int o = 0; o < out && (long) o * stride < pad; o++) {
            int start = o * stride - pad, first = (-start + dilation - 1) / dilation; // the first tap at or after row 0
            if (first >= window || start + (long) first * dilation >= in) return o;
        }
        return -1;
    }

    /** The same padding on both sides, floor mode (PyTorch's default). */
    public PoolGeometry(int c, int h, int w, int windowH, int windowW, int strideH, int strideW, int padH, int padW) {
        this(c, h, w, windowH, windowW, strideH, strideW, padH, padW, false);
    }

    /** The same padding on both sides, adjacent taps. */
    public PoolGeometry(int c, int h, int w, int windowH, int windowW, int strideH, int strideW, int padH, int padW, boolean ceil) {
        this(c, h, w, windowH, windowW, strideH, strideW, padH, padW, padH, padW, ceil);
    }

    /** Adjacent taps. */
    public PoolGeometry(int c, int h, int w, int windowH, int windowW, int strideH, int strideW, int padH, int padW, int padBottom, int padRight,
                        boolean ceil) {
        this(c, h, w, windowH, windowW, strideH, strideW, padH, padW, padBottom, padRight, 1, 1, ceil);
    }

    /** The rows a window reaches: dilationH·(windowH − 1) + 1. */
    public int spanH() {
        return dilationH * (windowH - 1) + 1;
    }

    /** The columns a window reaches. */
    public int spanW() {
        return dilationW * (windowW - 1) + 1;
    }

    /** Whether the taps are adjacent (no dilation). */
    public boolean undilated() {
        return dilationH == 1 && dilationW == 1;
    }

    /** Square windows, no padding. */
    public static PoolGeometry square(int c, int h, int w, int window, int stride) {
        return new PoolGeometry(c, h, w, window, window, stride, stride, 0, 0);
    }

    private static int outSize(int in, int window, int stride, int pad, int padEnd, boolean ceil) {
        long span = (long) in + pad + padEnd - window;
        long out = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceil && (out - 1) * stride >= in + pad) out--; // the last window starts inside the input or the top padding
        return (int) out;
    }

    public int p() {
        return outSize(h, spanH(), strideH, padH, padBottom, ceil);
    }

    public int q() {
        return outSize(w, spanW(), strideW, padW, padRight, ceil);
    }

    /** Whether every window lies within the padded input (always in floor mode; in ceil mode where the ceiling adds no window). */
    public boolean windowsInside() {
        return (p() - 1L) * strideH + spanH() <= (long) h + padH + padBottom && (q() - 1L) * strideW + spanW() <= (long) w + padW + padRight;
    }

    /** Whether no side is padded. */
    public boolean unpadded() {
        return padH == 0 && padW == 0 && padBottom == 0 && padRight == 0;
    }

    /**
     * The divisor of output (op, oq)'s average, as PyTorch's {@code avg_pool2d}: the window's taps
     * within the padded input, or with {@code countPadding} false those within the input itself.
     * windowH·windowW wherever the window lies inside and either padding counts or none is there.
     */
    public int divisor(int op, int oq, boolean countPadding) {
        return extent(op, strideH, padH, padBottom, windowH, h, countPadding) * extent(oq, strideW, padW, padRight, windowW, w, countPadding);
    }

    private static int extent(int o, int stride, int pad, int padEnd, int window, int in, boolean countPadding) {
        int start = o * stride - pad, end = Math.min(start + window, in + padEnd);
        return countPadding ? end - start : Math.min(end, in) - Math.max(start, 0);
    }
}
