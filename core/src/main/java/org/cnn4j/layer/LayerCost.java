package org.cnn4j.layer;

import org.cnn4j.tensor.Shape;

/**
 * What one layer costs for one sample: its output shape, trainable parameters, the
 * multiply-accumulates of its forward pass, and the float32 bytes of its output activation.
 */
public record LayerCost(Shape outputShape, long parameters, long multiplyAccumulates, long activationBytes) {

    /** Output values per sample. */
    public long outputValues() {
        return outputShape.size();
    }
}
