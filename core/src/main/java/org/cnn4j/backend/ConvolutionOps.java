package org.cnn4j.backend;

import org.cnn4j.tensor.Tensor;

/**
 * The convolution family of {@link Backend}'s operations: the convolution's three passes and the
 * bias of a convolution or dense layer. Conventions (NCHW, KCRS, outputs first, the accumulation
 * rule) are {@link Backend}'s.
 */
public interface ConvolutionOps {

    /** y(n,k,p,q) = Σ_{c,r,s} x(n, c, p·sh − ph + r·dh, q·sw − pw + s·dw) · w(k,c,r,s); out-of-range x reads 0. */
    void convForward(Tensor y, Tensor x, Tensor w, ConvGeometry g);

    /**
     * {@link #convForward(Tensor, Tensor, Tensor, ConvGeometry)}, then {@link #addBias} with b when b is not
     * null, with the same rounding (the bias is added to the finished sum). Backends may do both in one
     * pass over y.
     */
    default void convForward(Tensor y, Tensor x, Tensor w, Tensor b, ConvGeometry g) {
        convForward(y, x, w, g);
        if (b != null) addBias(y, b);
    }

    /** dx = the full convolution of dy with the filters rotated 180° (transposed convolution). Overwrites dx. */
    void convBackwardData(Tensor dx, Tensor dy, Tensor w, ConvGeometry g);

    /** dw += the valid correlation of x with dy, summed over the batch. Accumulates. */
    void convBackwardFilter(Tensor dw, Tensor x, Tensor dy, ConvGeometry g);

    /**
     * {@link #convBackwardFilter(Tensor, Tensor, Tensor, ConvGeometry)}, then {@link #biasBackward}
     * into db when db is not null. Backends may compute both in one pass over dy.
     */
    default void convBackwardFilter(Tensor dw, Tensor db, Tensor x, Tensor dy, ConvGeometry g) {
        convBackwardFilter(dw, x, dy, g);
        if (db != null) biasBackward(db, dy);
    }

    /** y(n,k,…) += b(k) for every position of channel k. y may be (n,k,h,w) or (n,k). */
    void addBias(Tensor y, Tensor b);

    /** db(k) += Σ over batch and positions of dy(n,k,…). Accumulates. */
    void biasBackward(Tensor db, Tensor dy);
}
