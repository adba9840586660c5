package org.cnn4j.layer;

import java.util.Random;

import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * (n, c, h, w) → (n, c): the mean of each map, as a ResNet's head takes it (PyTorch's
 * {@code AdaptiveAvgPool2d(1)} followed by a flatten). Backward spreads each dy evenly over its map.
 */
public final class GlobalAvgPool2d extends Layer {
    private PoolGeometry geometry;
    private Tensor x;

    @Override
    public String describe() {
        return "GlobalAvgPool2d";
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        if (input.rank() != 3) throw new IllegalArgumentException("expects images (n, c, h, w) but gets " + batchShape(input));
        geometry = new PoolGeometry(input.dim(0), input.dim(1), input.dim(2), input.dim(1), input.dim(2), input.dim(1), input.dim(2), 0, 0);
        return Shape.of(input.dim(0));
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        this.x = x;
        int n = x.shape().n();
        Tensor y = buffer("y", Shape.of(n, geometry.c(), 1, 1));
        backend().avgPoolForward(y, x, geometry);
        return y.reshape(Shape.of(n, geometry.c()));
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", x.shape());
        backend().avgPoolBackward(dx, dy.reshape(Shape.of(dy.shape().rows(), geometry.c(), 1, 1)), geometry);
        return dx;
    }

    @Override
    protected long multiplyAccumulates() {
        return inputShape().size();
    }
}
