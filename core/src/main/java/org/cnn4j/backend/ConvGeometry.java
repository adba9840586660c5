package org.cnn4j.backend;

/**
 * The shape arithmetic of one 2-D convolution (cross-correlation, as cuDNN's
 * CUDNN_CROSS_CORRELATION and PyTorch): input (n, c, h, w), filters (k, c, r, s), output (n, k, p, q)
 * with {@code p = floor((h + 2·padH − dilationH·(r − 1) − 1) / strideH) + 1} and likewise q. With
 * dilation 1 this is the usual {@code floor((n + 2p − f) / s) + 1}.
 */
public record ConvGeometry(int c, int h, int w, int k, int r, int s,
                           int padH, int padW, int strideH, int strideW, int dilationH, int dilationW) {

    public ConvGeometry {
        if (c < 1 || h < 1 || w < 1 || k < 1 || r < 1 || s < 1) {
            throw new IllegalArgumentException("convolution sizes must be positive: c=" + c + " h=" + h + " w=" + w
                    + " k=" + k + " r=" + r + " s=" + s);
        }
        if (padH < 0 || padW < 0 || strideH < 1 || strideW < 1 || dilationH < 1 || dilationW < 1) {
            throw new IllegalArgumentException("convolution needs padding >= 0, stride >= 1 and dilation >= 1; got pad "
                    + padH + "x" + padW + ", stride " + strideH + "x" + strideW + ", dilation " + dilationH + "x" + dilationW);
        }
        if (outSize(h, r, padH, strideH, dilationH) < 1 || outSize(w, s, padW, strideW, dilationW) < 1) {
            throw new IllegalArgumentException("a " + r + "x" + s + " filter (dilation " + dilationH + "x" + dilationW
                    + ", padding " + padH + "x" + padW + ") does not fit an input of " + h + "x" + w);
        }
        if (outSize(h, r, padH, strideH, dilationH) > Integer.MAX_VALUE || outSize(w, s, padW, strideW, dilationW) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("padding " + padH + "x" + padW + " makes the output of an input of " + h + "x" + w
                    + " larger than 2^31 in a dimension");
        }
    }

    /** A square filter with equal padding, stride and dilation in both directions. */
    public static ConvGeometry square(int c, int h, int w, int k, int f, int pad, int stride, int dilation) {
        return new ConvGeometry(c, h, w, k, f, f, pad, pad, stride, stride, dilation, dilation);
    }

    /** The output size, in 64 bits (0 when the filter does not fit; beyond 2^31 for absurd padding, which the constructor refuses). */
    private static long outSize(int in, int f, int pad, int stride, int dilation) {
        long span = (long) dilation * (f - 1) + 1;
        long padded = in + 2L * pad - span;
        return padded < 0 ? 0 : padded / stride + 1;
    }

    /** Output height. */
    public int p() {
        return (int) outSize(h, r, padH, strideH, dilationH);
    }

    /** Output width. */
    public int q() {
        return (int) outSize(w, s, padW, strideW, dilationW);
    }

    /** Multiply-accumulates per sample: k·p·q output values, each a dot product of length c·r·s. */
    public long macsPerSample() {
        return (long) k * p() * q() * c * r * s;
    }
}
