package org.cnn4j.backend.reference;

import org.cnn4j.tensor.Tensor;

/** What each family of the reference backend's operations shares: the backend. */
abstract class ReferenceOps {
    final ReferenceBackend backend;

    ReferenceOps(ReferenceBackend backend) {
        this.backend = backend;
    }

    /** The double array of a FLOAT64 tensor of the backend. */
    final double[] d(Tensor t) {
        return backend.d(t);
    }
}
