package org.cnn4j.layer;

import org.cnn4j.tensor.Tensor;

/** Average pooling; backward spreads each dy evenly over its window (the average "upsample"). */
public final class AvgPool2d extends Pool2d {

    public AvgPool2d(int window) {
        super(window, window);
    }

    public AvgPool2d(int windowH, int windowW) {
        super(windowH, windowW);
    }

    @Override
    protected String kind() {
        return "AvgPool2d";
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        this.x = x;
        Tensor y = buffer("y", outputShape().batch(x.shape().n()));
        backend().avgPoolForward(y, x, geometry);
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", x.shape());
        backend().avgPoolBackward(dx, dy, geometry);
        return dx;
    }
}
