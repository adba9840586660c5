package org.cnn4j.layer;

import java.util.List;

/**
 * Merges each convolution with the activation layer right after it: the convolution applies the
 * function as it writes its output ({@link org.cnn4j.backend.Backend#convForward(org.cnn4j.tensor.Tensor,
 * org.cnn4j.tensor.Tensor, org.cnn4j.tensor.Tensor, org.cnn4j.tensor.Tensor, org.cnn4j.backend.Activation,
 * org.cnn4j.backend.ConvGeometry)}) and multiplies dy by f'(y) in its backward pass, and the
 * activation layer passes values and gradients through. It saves a pass over the activations each
 * way and one activation tensor per pair; the arithmetic is the same, so the results are too
 * (bitwise on the CPU). The layers stay as they are in the model, its file and its summary.
 */
public final class Fusion {
    private Fusion() {
    }

    /** Fuses the pairs of a bound model's layers, in order. */
    public static void fuse(List<Layer> layers) {
        for (int i = 0; i + 1 < layers.size(); i++) {
            if (layers.get(i) instanceof Conv2d conv && layers.get(i + 1) instanceof ActivationLayer act) {
                conv.fuse(act.function());
                act.fuseIntoPrevious();
            }
        }
    }
}
