package org.cnn4j.backend;

/**
 * The shape arithmetic of 2-D pooling and subsampling over (n, c, h, w): windows of
 * {@code windowH × windowW} placed every {@code strideH, strideW}, after {@code padH, padW} of
 * padding; output {@code p = floor((h + 2·padH − windowH) / strideH) + 1} (as PyTorch with
 * {@code ceil_mode=False}). Windows may overlap (stride &lt; window); rows and columns that no
 * window reaches get a zero gradient. Padding never wins a max, and counts in an average's divisor
 * (PyTorch's {@code count_include_pad=True}).
 */
public record PoolGeometry(int c, int h, int w, int windowH, int windowW, int strideH, int strideW, int padH, int padW) {

    public PoolGeometry {
        if (c < 1 || h < 1 || w < 1 || windowH < 1 || windowW < 1 || strideH < 1 || strideW < 1) {
            throw new IllegalArgumentException("pooling sizes must be positive: c=" + c + " h=" + h + " w=" + w
                    + " window " + windowH + "x" + windowW + " stride " + strideH + "x" + strideW);
        }
        if (padH < 0 || padW < 0 || padH > windowH / 2 || padW > windowW / 2) {
            throw new IllegalArgumentException("pooling padding must be between 0 and half the window: pad "
                    + padH + "x" + padW + " for a " + windowH + "x" + windowW + " window");
        }
        if (h + 2L * padH < windowH || w + 2L * padW < windowW) {
            throw new IllegalArgumentException("a " + windowH + "x" + windowW + " window does not fit an input of "
                    + h + "x" + w + " with padding " + padH + "x" + padW);
        }
    }

    /** Square windows, no padding. */
    public static PoolGeometry square(int c, int h, int w, int window, int stride) {
        return new PoolGeometry(c, h, w, window, window, stride, stride, 0, 0);
    }

    public int p() {
        return (int) ((h + 2L * padH - windowH) / strideH + 1);
    }

    public int q() {
        return (int) ((w + 2L * padW - windowW) / strideW + 1);
    }
}
