package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * 2-D convolution (cross-correlation, as PyTorch's Conv2d): input (n, c, h, w), filters w of
 * (k, c/g, r, s), one bias per filter, output (n, k, p, q). Rectangular filters, padding, stride
 * and dilation per direction, and g groups (PyTorch's {@code groups}): the channels and the filters
 * are split into g equal groups, and the filters of group j see only the input channels of group j
 * (g = c = k is a depthwise convolution).
 *
 * <p>Backward: dx is the full convolution of dy with the filters rotated 180°; dw is
 * the valid correlation of x with dy; db is dy summed over batch and space.
 */
public final class Conv2d extends Layer {
    private final int inChannels, outChannels, kernelH, kernelW;
    private int padH, padW, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1, groups = 1;
    private boolean bias = true;
    private Init init = Init.DEFAULT;

    private ConvGeometry geometry;
    private Parameter w, b;
    private Tensor x, y;
    private Activation fused = Activation.IDENTITY;
    /** Whether the max pooling after the fused ReLU does the ReLU's backward pass (see {@link Fusion}). */
    private boolean activationBackwardDoneAfter;

    /** A square kernel×kernel convolution from inChannels to outChannels maps. */
    public Conv2d(int inChannels, int outChannels, int kernel) {
        this(inChannels, outChannels, kernel, kernel);
    }

    /** A kernelH×kernelW convolution. */
    public Conv2d(int inChannels, int outChannels, int kernelH, int kernelW) {
        if (inChannels < 1 || outChannels < 1 || kernelH < 1 || kernelW < 1) {
            throw new IllegalArgumentException("Conv2d needs positive channels and kernel sizes, got " + inChannels + "→"
                    + outChannels + " " + kernelH + "x" + kernelW);
        }
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.kernelH = kernelH;
        this.kernelW = kernelW;
    }

    public Conv2d padding(int pad) {
        return padding(pad, pad);
    }

    public Conv2d padding(int padH, int padW) {
        requireUnbound("padding");
        this.padH = padH;
        this.padW = padW;
        return this;
    }

    public Conv2d stride(int stride) {
        return stride(stride, stride);
    }

    public Conv2d stride(int strideH, int strideW) {
        requireUnbound("stride");
        this.strideH = strideH;
        this.strideW = strideW;
        return this;
    }

    public Conv2d dilation(int dilation) {
        return dilation(dilation, dilation);
    }

    public Conv2d dilation(int dilationH, int dilationW) {
        requireUnbound("dilation");
        this.dilationH = dilationH;
        this.dilationW = dilationW;
        return this;
    }

    /**
     * Splits the input channels and the filters into {@code groups} equal groups, each filter
     * seeing only its group's channels (default 1; in- and out-channels must both divide by it).
     * Each group is convolved on its own, its channels copied out and its result copied in, so
     * every backend runs it with its ordinary convolution.
     */
    public Conv2d groups(int groups) {
        requireUnbound("groups");
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0) {
            throw new IllegalArgumentException("Conv2d " + inChannels + "→" + outChannels + ": groups must be at least 1 and divide both channel counts, got "
                    + groups);
        }
        this.groups = groups;
        return this;
    }

    /** Whether the layer has a bias (default true). */
    public Conv2d bias(boolean on) {
        requireUnbound("bias");
        this.bias = on;
        return this;
    }

    public Conv2d init(Init init) {
        requireUnbound("init");
        this.init = init;
        return this;
    }

    @Override
    protected void settings(Map<String, Object> s) {
        s.put("in", inChannels);
        s.put("out", outChannels);
        s.put("kernel", new int[] {kernelH, kernelW});
        s.put("padding", new int[] {padH, padW});
        s.put("stride", new int[] {strideH, strideW});
        s.put("dilation", new int[] {dilationH, dilationW});
        if (groups != 1) s.put("groups", groups); // files of ungrouped layers stay as they were
        s.put("bias", bias);
        s.put("init", init.name());
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static Conv2d read(Settings s) {
        int[] k = s.integers("kernel", 2), pad = s.integers("padding", 2), stride = s.integers("stride", 2), dil = s.integers("dilation", 2);
        return new Conv2d(s.integer("in"), s.integer("out"), k[0], k[1]).padding(pad[0], pad[1]).stride(stride[0], stride[1])
                .dilation(dil[0], dil[1]).groups(s.values().containsKey("groups") ? s.integer("groups") : 1).bias(s.flag("bias"))
                .init(s.choice("init", Init.class));
    }

    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder("Conv2d " + inChannels + "→" + outChannels + " " + kernelH + "×" + kernelW);
        if (padH != 0 || padW != 0) sb.append(" pad ").append(padH == padW ? "" + padH : padH + "×" + padW);
        if (strideH != 1 || strideW != 1) sb.append(" stride ").append(strideH == strideW ? "" + strideH : strideH + "×" + strideW);
        if (dilationH != 1 || dilationW != 1) {
            sb.append(" dilation ").append(dilationH == dilationW ? "" + dilationH : dilationH + "×" + dilationW);
        }
        if (groups != 1) sb.append(" groups ").append(groups);
        if (!bias) sb.append(" no bias");
        return sb.toString();
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        fused = Activation.IDENTITY;
        activationBackwardDoneAfter = false;
        if (input.rank() != 3 || input.dim(0) != inChannels) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") expects input (n, " + inChannels
                    + ", h, w) but gets " + batchShape(input));
        }
        try {
            geometry = new ConvGeometry(inChannels / groups, input.dim(1), input.dim(2), outChannels / groups, kernelH, kernelW,
                    padH, padW, strideH, strideW, dilationH, dilationW);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") on input " + batchShape(input)
                    + ": " + e.getMessage(), e);
        }
        // PyTorch's fans: from the weight's shape, (k, c/g, r, s)
        int fanIn = inChannels / groups * kernelH * kernelW, fanOut = outChannels * kernelH * kernelW;
        Shape wShape = Shape.of(outChannels, inChannels / groups, kernelH, kernelW);
        w = parameter("weight", wShape, () -> init.weights(wShape.size(), fanIn, fanOut, rng));
        if (bias) b = parameter("bias", Shape.of(outChannels), () -> init.biases(outChannels, fanIn, rng));
        return Shape.of(outChannels, geometry.p(), geometry.q());
    }

    /**
     * Takes over the activation layer that follows (see {@link Fusion}): the forward pass returns
     * f(convolution + bias), and the backward pass first turns dy into dy ∘ f'(y).
     */
    void fuse(Activation f) {
        requireBound();
        fused = f;
    }

    /** The gradient of the bias, or null without one. */
    Tensor biasGradient() {
        return b == null ? null : b.gradient();
    }

    /** Leaves the fused activation's backward pass to the layer after (a max pooling that applies it as it gathers). */
    void leaveActivationBackward() {
        requireBound();
        activationBackwardDoneAfter = true;
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        this.x = x;
        y = buffer("y", outputShape().batch(x.shape().n()));
        if (groups != 1) {
            groupedForward(x, y);
            if (b != null) backend().addBias(y, b.value());
            if (fused != Activation.IDENTITY) backend().activationForward(fused, y, y);
        } else if (fused == Activation.IDENTITY) {
            backend().convForward(y, x, w.value(), b == null ? null : b.value(), geometry);
        } else {
            backend().convForward(y, x, w.value(), b == null ? null : b.value(), fused, geometry);
        }
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        // Where the backend sums the bias gradient as the activation's backward pass writes dy, the
        // pass that writes it gets db (here, or in the max pooling after that took it over).
        boolean biasWithActivation = fused != Activation.IDENTITY && backend().biasGradientWithActivation();
        Tensor db = b == null ? null : b.gradient();
        if (fused != Activation.IDENTITY && !activationBackwardDoneAfter) dy = throughActivation(fused, dy, y, biasWithActivation ? db : null);
        Tensor dx = computeInputGradient() ? buffer("dx", x.shape()) : null;
        if (groups != 1) {
            if (db != null && !biasWithActivation) backend().biasBackward(db, dy);
            groupedBackward(x, dy, dx);
            return dx;
        }
        backend().convBackwardFilter(w.gradient(), biasWithActivation ? null : db, x, dy, geometry);
        if (dx != null) backend().convBackwardData(dx, dy, w.value(), geometry);
        return dx;
    }

    /**
     * y = the grouped convolution, group by group: x's channels of group j and filters j are copied
     * out ({@link org.cnn4j.backend.Backend#copyChannels}), convolved, and the result copied into
     * y's channels of group j.
     */
    private void groupedForward(Tensor x, Tensor y) {
        Tensor xg = groupInput(x), yg = groupOutput(x), wg = groupFilters();
        for (int j = 0; j < groups; j++) {
            backend().copyChannels(x, xg, j * geometry.c(), true);
            backend().copyChannels(filterRows(w.value()), wg, j * geometry.k(), true);
            backend().convForward(yg, xg, wg.reshape(filterShape()), geometry);
            backend().copyChannels(y, yg, j * geometry.k(), false);
        }
    }

    /**
     * The grouped backward pass, group by group: each group's filter gradient is added to its rows
     * of w's gradient (copied out, added to, copied back) and, when dx is not null, its input
     * gradient written into dx's channels of the group.
     */
    private void groupedBackward(Tensor x, Tensor dy, Tensor dx) {
        Tensor xg = groupInput(x), dyg = groupOutput(x), wg = groupFilters(), dwg = buffer("group.dw", wg.shape());
        Tensor dxg = dx == null ? null : buffer("group.dx", xg.shape());
        for (int j = 0; j < groups; j++) {
            backend().copyChannels(dy, dyg, j * geometry.k(), true);
            if (dxg != null) {
                backend().copyChannels(filterRows(w.value()), wg, j * geometry.k(), true);
                backend().convBackwardData(dxg, dyg, wg.reshape(filterShape()), geometry);
                backend().copyChannels(dx, dxg, j * geometry.c(), false);
            }
            backend().copyChannels(x, xg, j * geometry.c(), true);
            backend().copyChannels(filterRows(w.gradient()), dwg, j * geometry.k(), true);
            backend().convBackwardFilter(dwg.reshape(filterShape()), xg, dyg, geometry);
            backend().copyChannels(filterRows(w.gradient()), dwg, j * geometry.k(), false);
        }
    }

    private Tensor groupInput(Tensor x) {
        return buffer("group.x", Shape.of(x.shape().n(), geometry.c(), x.shape().dim(2), x.shape().dim(3)));
    }

    private Tensor groupOutput(Tensor x) {
        return buffer("group.y", Shape.of(x.shape().n(), geometry.k(), geometry.p(), geometry.q()));
    }

    /** One group's filters, as rows for {@link #filterRows}. */
    private Tensor groupFilters() {
        return buffer("group.w", Shape.of(1, geometry.k(), geometry.c() * kernelH * kernelW, 1));
    }

    /** Filters (k, c/g, r, s) seen as (1, k, c/g·r·s, 1): the filters as channels, so that a group's are copied as channels are. */
    private Tensor filterRows(Tensor filters) {
        return filters.reshape(Shape.of(1, outChannels, geometry.c() * kernelH * kernelW, 1));
    }

    private Shape filterShape() {
        return Shape.of(geometry.k(), geometry.c(), kernelH, kernelW);
    }

    @Override
    protected long multiplyAccumulates() {
        return groups * geometry.macsPerSample();
    }

    /** The channel groups (1 unless {@link #groups(int)} set more). */
    public int groups() {
        return groups;
    }

    /** The shape arithmetic of one group's convolution (of the whole layer without groups). */
    public ConvGeometry geometry() {
        return geometry;
    }

    /** Filters (k, c/g, r, s). */
    public Parameter weight() {
        return w;
    }

    /** Biases (k), or null without bias. */
    public Parameter bias() {
        return b;
    }
}
