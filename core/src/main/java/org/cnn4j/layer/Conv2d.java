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
 * (k, c, r, s), one bias per filter, output (n, k, p, q). Rectangular filters, padding, stride
 * and dilation per direction.
 *
 * <p>Backward: dx is the full convolution of dy with the filters rotated 180°; dw is
 * the valid correlation of x with dy; db is dy summed over batch and space.
 */
public final class Conv2d extends Layer {
    private final int inChannels, outChannels, kernelH, kernelW;
    private int padH, padW, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
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
        s.put("bias", bias);
        s.put("init", init.name());
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static Conv2d read(Settings s) {
        int[] k = s.integers("kernel", 2), pad = s.integers("padding", 2), stride = s.integers("stride", 2), dil = s.integers("dilation", 2);
        return new Conv2d(s.integer("in"), s.integer("out"), k[0], k[1]).padding(pad[0], pad[1]).stride(stride[0], stride[1])
                .dilation(dil[0], dil[1]).bias(s.flag("bias")).init(s.choice("init", Init.class));
    }

    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder("Conv2d " + inChannels + "→" + outChannels + " " + kernelH + "×" + kernelW);
        if (padH != 0 || padW != 0) sb.append(" pad ").append(padH == padW ? "" + padH : padH + "×" + padW);
        if (strideH != 1 || strideW != 1) sb.append(" stride ").append(strideH == strideW ? "" + strideH : strideH + "×" + strideW);
        if (dilationH != 1 || dilationW != 1) {
            sb.append(" dilation ").append(dilationH == dilationW ? "" + dilationH : dilationH + "×" + dilationW);
        }
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
            geometry = new ConvGeometry(inChannels, input.dim(1), input.dim(2), outChannels, kernelH, kernelW,
                    padH, padW, strideH, strideW, dilationH, dilationW);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer '" + name() + "' (" + describe() + ") on input " + batchShape(input)
                    + ": " + e.getMessage(), e);
        }
        int fanIn = inChannels * kernelH * kernelW, fanOut = outChannels * kernelH * kernelW;
        Shape wShape = Shape.of(outChannels, inChannels, kernelH, kernelW);
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
        if (fused == Activation.IDENTITY) {
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
        backend().convBackwardFilter(w.gradient(), biasWithActivation ? null : db, x, dy, geometry);
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", x.shape());
        backend().convBackwardData(dx, dy, w.value(), geometry);
        return dx;
    }

    @Override
    protected long multiplyAccumulates() {
        return geometry.macsPerSample();
    }

    public ConvGeometry geometry() {
        return geometry;
    }

    /** Filters (k, c, r, s). */
    public Parameter weight() {
        return w;
    }

    /** Biases (k), or null without bias. */
    public Parameter bias() {
        return b;
    }
}
