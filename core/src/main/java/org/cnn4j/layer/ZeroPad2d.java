package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Zero padding of each image, as PyTorch's {@code nn.ZeroPad2d((left, right, top, bottom))}:
 * (c, h, w) → (c, top + h + bottom, left + w + right), the image at (top, left) and zeros around
 * it. Backward: dx is dy's window where the image lies. A convolution padded unevenly (an ONNX
 * file's pads or auto_pad) is read as this layer before an unpadded convolution.
 */
public final class ZeroPad2d extends Layer {
    /** The largest padding of a side: more is no padding but a mistake. */
    public static final int MAX_PAD = 1 << 16;
    private final int left, right, top, bottom;

    /** The same padding on every side. */
    public ZeroPad2d(int pad) {
        this(pad, pad, pad, pad);
    }

    /** PyTorch's order: left, right, top, bottom. */
    public ZeroPad2d(int left, int right, int top, int bottom) {
        for (int p : new int[] {left, right, top, bottom}) {
            if (p < 0 || p > MAX_PAD) {
                throw new IllegalArgumentException("ZeroPad2d needs padding from 0 to " + MAX_PAD + ", got left " + left + ", right " + right
                        + ", top " + top + ", bottom " + bottom);
            }
        }
        this.left = left;
        this.right = right;
        this.top = top;
        this.bottom = bottom;
    }

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("padding", new int[] {left, right, top, bottom});
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static ZeroPad2d read(Settings s) {
        int[] p = s.integers("padding", 4);
        return new ZeroPad2d(p[0], p[1], p[2], p[3]);
    }

    @Override
    public String describe() {
        return "ZeroPad2d " + left + "," + right + "," + top + "," + bottom;
    }

    /** (left, right, top, bottom), PyTorch's order. */
    public int[] padding() {
        return new int[] {left, right, top, bottom};
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        if (input.rank() != 3) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") expects images (n, c, h, w) but gets " + batchShape(input));
        }
        return Shape.of(input.dim(0), input.dim(1) + top + bottom, input.dim(2) + left + right);
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        Tensor y = buffer("y", outputShape().batch(x.shape().n()));
        backend().padPlanes(y, x, top, left, false);
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", inputShape().batch(dy.shape().n()));
        backend().padPlanes(dy, dx, top, left, true);
        return dx;
    }

    @Override
    protected long multiplyAccumulates() {
        return 0;
    }
}
