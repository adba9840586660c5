package org.cnn4j.backend;

import org.cnn4j.tensor.Tensor;

/** The pooling family of {@link Backend}'s operations: max and average pooling, forward and backward. */
public interface PoolingOps {

    /** y = max over each window; mask records where each maximum came from. */
    void maxPoolForward(Tensor y, Tensor mask, Tensor x, PoolGeometry g);

    /** dx(i) = Σ dy(o) over the outputs o whose mask points at i (correct for overlapping windows). Overwrites dx. */
    void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, PoolGeometry g);

    /** y = mean over each window (divisor windowH·windowW, padding included). */
    void avgPoolForward(Tensor y, Tensor x, PoolGeometry g);

    /** dx(i) = Σ dy(o) / (windowH·windowW) over the windows o that cover i. Overwrites dx. */
    void avgPoolBackward(Tensor dx, Tensor dy, PoolGeometry g);
}
