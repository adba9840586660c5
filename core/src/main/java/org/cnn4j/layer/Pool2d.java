package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * What max and average pooling share: windowH×windowW windows every strideH, strideW (the window
 * by default) after optional padding, over each channel of (n, c, h, w). Windows may overlap and
 * need not divide the input; the output size rounds down, or up with {@link #ceilMode} (see {@link
 * PoolGeometry}).
 */
public abstract sealed class Pool2d extends Layer permits MaxPool2d, AvgPool2d {
    protected final int windowH, windowW;
    protected int strideH, strideW, padH, padW, padBottom, padRight, dilationH = 1, dilationW = 1;
    protected boolean ceilMode;
    protected PoolGeometry geometry;
    protected Tensor x;

    protected Pool2d(int windowH, int windowW) {
        if (windowH < 1 || windowW < 1) {
            throw new IllegalArgumentException("pooling windows must be positive, got " + windowH + "x" + windowW);
        }
        this.windowH = windowH;
        this.windowW = windowW;
        this.strideH = windowH;
        this.strideW = windowW;
    }

    public Pool2d stride(int stride) {
        return stride(stride, stride);
    }

    public Pool2d stride(int strideH, int strideW) {
        requireUnbound("stride");
        this.strideH = strideH;
        this.strideW = strideW;
        return this;
    }

    public Pool2d padding(int pad) {
        return padding(pad, pad);
    }

    public Pool2d padding(int padH, int padW) {
        return padding(padH, padW, padH, padW);
    }

    /**
     * Padding that differs between the sides (as an ONNX file's pads or auto_pad may give it):
     * top, left, bottom, right; each at most half the window.
     */
    public Pool2d padding(int top, int left, int bottom, int right) {
        requireUnbound("padding");
        this.padH = top;
        this.padW = left;
        this.padBottom = bottom;
        this.padRight = right;
        return this;
    }

    private boolean symmetric() {
        return padH == padBottom && padW == padRight;
    }

    /**
     * Rounds the output size up rather than down (PyTorch's {@code ceil_mode=True}): a last, partial
     * window takes the rows and columns floor mode leaves out, unless it would start in the padding.
     */
    public Pool2d ceilMode(boolean on) {
        requireUnbound("ceilMode");
        this.ceilMode = on;
        return this;
    }

    protected abstract String kind();

    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder(kind() + " " + windowH + "×" + windowW);
        if (strideH != windowH || strideW != windowW) sb.append(" stride ").append(strideH == strideW ? "" + strideH : strideH + "×" + strideW);
        if (!symmetric()) sb.append(" pad ").append(padH).append(',').append(padW).append(',').append(padBottom).append(',').append(padRight);
        else if (padH != 0 || padW != 0) sb.append(" pad ").append(padH == padW ? "" + padH : padH + "×" + padW);
        if (dilationH != 1 || dilationW != 1) sb.append(" dilation ").append(dilationH == dilationW ? "" + dilationH : dilationH + "×" + dilationW);
        if (ceilMode) sb.append(" ceil");
        return sb.toString();
    }

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("window", new int[] {windowH, windowW});
        s.put("stride", new int[] {strideH, strideW});
        s.put("padding", symmetric() ? new int[] {padH, padW} : new int[] {padH, padW, padBottom, padRight});
        if (dilationH != 1 || dilationW != 1) s.put("dilation", new int[] {dilationH, dilationW});
        if (ceilMode) s.put("ceilMode", true); // files in floor mode stay as they were
    }

    /** The pooling {@link #settings} describes, made by {@code window} from its window's height and width. */
    static Pool2d read(Settings s, java.util.function.BiFunction<Integer, Integer, Pool2d> window) {
        int[] size = s.integers("window", 2), stride = s.integers("stride", 2), pad = s.integers("padding", -1);
        if (pad.length != 2 && pad.length != 4) throw new IllegalArgumentException(s.owner() + ": setting 'padding' must be 2 or 4 integers, got " + pad.length);
        Pool2d pool = window.apply(size[0], size[1]).stride(stride[0], stride[1]).padding(pad[0], pad[1], pad[pad.length - 2], pad[pad.length - 1])
                .ceilMode(s.values().containsKey("ceilMode") && s.flag("ceilMode"));
        if (s.values().containsKey("dilation")) {
            int[] d = s.integers("dilation", 2);
            if (!(pool instanceof MaxPool2d max)) throw new IllegalArgumentException(s.owner() + ": only a max pooling takes a dilation");
            max.dilation(d[0], d[1]);
        }
        return pool;
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        if (input.rank() != 3) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") expects images (n, c, h, w) but gets "
                    + batchShape(input));
        }
        try {
            geometry = new PoolGeometry(input.dim(0), input.dim(1), input.dim(2), windowH, windowW, strideH, strideW, padH, padW,
                    padBottom, padRight, dilationH, dilationW, ceilMode);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") on input " + batchShape(input)
                    + ": " + e.getMessage(), e);
        }
        return Shape.of(input.dim(0), geometry.p(), geometry.q());
    }

    @Override
    protected long multiplyAccumulates() {
        return 0;
    }

    public PoolGeometry geometry() {
        return geometry;
    }
}
