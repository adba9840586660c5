package org.cnn4j.layer;

import java.util.List;

import org.cnn4j.backend.Activation;

/**
 * Merges each convolution or dense layer with the activation layer right after it: the layer
 * applies the function with its bias in one pass over its output (a convolution even as it writes
 * it: {@link org.cnn4j.backend.Backend#convForward(org.cnn4j.tensor.Tensor, org.cnn4j.tensor.Tensor,
 * org.cnn4j.tensor.Tensor, org.cnn4j.tensor.Tensor, org.cnn4j.backend.Activation,
 * org.cnn4j.backend.ConvGeometry)}; a dense layer through
 * {@link org.cnn4j.backend.Backend#biasActivation}) and multiplies dy by f'(y) in its backward pass,
 * and the activation layer passes values and gradients through. It saves a pass over the
 * activations each way (on a GPU, a launch) and one activation tensor per pair. When a max pooling
 * follows a convolution's ReLU, the pooling's backward pass also does the ReLU's
 * ({@link org.cnn4j.backend.Backend#maxPoolBackward(org.cnn4j.tensor.Tensor, org.cnn4j.tensor.Tensor,
 * org.cnn4j.tensor.Tensor, org.cnn4j.tensor.Tensor, org.cnn4j.backend.PoolGeometry)}: one kernel on a
 * GPU). Where the backend sums a bias gradient best as dy is written
 * ({@link org.cnn4j.backend.Backend#biasGradientWithActivation()}: the GPU's warp-per-plane kernels),
 * the convolution's bias gradient is handed to that backward pass, the activation's or the
 * pooling's, and the convolution's own filter-gradient pass leaves it out. The arithmetic is the
 * same, so the results are too (bitwise on the CPU). The layers stay as
 * they are in the model, its file and its summary. Activations whose derivative needs their input
 * (SiLU, GELU: see {@link Activation#derivativeNeedsInput()}) are not fused.
 */
public final class Fusion {
    private Fusion() {
    }

    /** Fuses the pairs of a chain of bound layers, in order. */
    public static void fuse(List<Layer> layers) {
        boolean[] chained = new boolean[layers.size()];
        java.util.Arrays.fill(chained, true);
        fuse(layers, chained);
    }

    /**
     * Fuses the pairs of a bound graph's layers where {@code chained[i]}: layer i + 1 takes layer
     * i's output alone and is its only consumer (a fused activation passes its input through, so
     * nobody else may read the producer's output, nor the activation's from before it ran).
     */
    public static void fuse(List<Layer> layers, boolean[] chained) {
        for (int i = 0; i + 1 < layers.size(); i++) {
            if (!chained[i] || !(layers.get(i + 1) instanceof ActivationLayer act)) continue;
            if (act.function().derivativeNeedsInput()) continue; // the producer keeps f(x) only
            if (layers.get(i) instanceof Conv2d conv) {
                conv.fuse(act.function());
                act.fuseIntoPrevious();
                if (act.function() == Activation.RELU && i + 2 < layers.size() && chained[i + 1] && layers.get(i + 2) instanceof MaxPool2d pool) {
                    pool.takeReluBackward(conv);
                    conv.leaveActivationBackward();
                }
            } else if (layers.get(i) instanceof Dense dense) {
                dense.fuse(act.function());
                act.fuseIntoPrevious();
            }
        }
    }
}
