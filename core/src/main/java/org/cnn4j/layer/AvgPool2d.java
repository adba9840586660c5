package org.cnn4j.layer;

import java.util.Map;
import java.util.Random;

import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Average pooling; backward spreads each dy evenly over its window (the average "upsample"). The
 * divisor is PyTorch's: the window's taps within the padded input (all windowH·windowW of them but
 * for ceil mode's last windows), or with {@link #countIncludePad countIncludePad(false)} those
 * within the input alone. The backends average over windowH·windowW; where a divisor differs, the
 * layer rescales those outputs (and their gradients) by windowH·windowW / divisor.
 */
public final class AvgPool2d extends Pool2d {
    private boolean countIncludePad = true;
    /**
     * windowH·windowW / divisor per output position (p·q), or null where every divisor is
     * windowH·windowW; in double, which a float64 backend keeps and a float32 one rounds.
     */
    private double[] rescale;
    /** The factors tensor last written, so that it is written once per batch size (never while a step is recorded). */
    private Tensor written;

    public AvgPool2d(int window) {
        super(window, window);
    }

    public AvgPool2d(int windowH, int windowW) {
        super(windowH, windowW);
    }

    /** Whether the padding counts in the divisor (default true, as PyTorch's {@code count_include_pad}). */
    public AvgPool2d countIncludePad(boolean on) {
        requireUnbound("countIncludePad");
        this.countIncludePad = on;
        return this;
    }

    @Override
    protected String kind() {
        return "AvgPool2d";
    }

    @Override
    public String describe() {
        return countIncludePad ? super.describe() : super.describe() + " without padding in the divisor";
    }

    @Override
    protected void settings(Map<String, Object> s) {
        super.settings(s);
        if (!countIncludePad) s.put("countIncludePad", false); // files that count the padding stay as they were
    }

    /** The layer {@link #settings} describes (for {@link LayerConfig#toLayer()}). */
    static AvgPool2d read(Settings s) {
        AvgPool2d pool = (AvgPool2d) Pool2d.read(s, AvgPool2d::new);
        return pool.countIncludePad(!s.values().containsKey("countIncludePad") || s.flag("countIncludePad"));
    }

    @Override
    protected Shape build(Shape input, Random rng) {
        Shape out = super.build(input, rng);
        int p = geometry.p(), q = geometry.q(), area = windowH * windowW;
        double[] factors = new double[p * q];
        boolean any = false;
        for (int op = 0; op < p; op++) {
            for (int oq = 0; oq < q; oq++) {
                int divisor = geometry.divisor(op, oq, countIncludePad);
                factors[op * q + oq] = (double) area / divisor;
                any |= divisor != area;
            }
        }
        rescale = any ? factors : null;
        written = null;
        return out;
    }

    /** The rescaling factors for a batch of n, tiled over images and channels. */
    private Tensor factors(int n) {
        Tensor f = buffer("rescale", outputShape().batch(n));
        if (f != written) {
            double[] tiled = new double[f.size()];
            for (int at = 0; at < tiled.length; at += rescale.length) System.arraycopy(rescale, 0, tiled, at, rescale.length);
            backend().write(f, tiled);
            written = f;
        }
        return f;
    }

    @Override
    protected Tensor forwardPass(Tensor x, Pass pass) {
        this.x = x;
        Tensor y = buffer("y", outputShape().batch(x.shape().n()));
        backend().avgPoolForward(y, x, geometry);
        if (rescale != null) backend().multiply(y, y, factors(x.shape().n()));
        return y;
    }

    @Override
    protected Tensor backwardPass(Tensor dy) {
        if (!computeInputGradient()) return null;
        Tensor dx = buffer("dx", x.shape());
        if (rescale != null) {
            Tensor scaled = buffer("dy.rescaled", dy.shape());
            backend().multiply(scaled, dy, factors(dy.shape().n()));
            dy = scaled;
        }
        backend().avgPoolBackward(dx, dy, geometry);
        return dx;
    }
}
