package org.cnn4j.backend.cpu;

import java.util.Arrays;

import org.cnn4j.backend.PoolGeometry;

/**
 * Max and average pooling and LeNet-style subsampling on the CPU, a few (image, channel) planes per
 * task. Sizes: planes = n·c, each h×w in and p×q out; window windowH×windowW every strideH, strideW
 * after padH, padW of padding (see {@link PoolGeometry}).
 *
 * <p>The loops run tap by tap: for window tap (a, b), over every output (op, oq) whose window
 * puts that tap inside the image. The innermost loop is then a long run over oq instead of a
 * 2- or 3-long run over the window, and max pooling keeps its running maximum without branches
 * (a random comparison mispredicts half the time).
 */
final class CpuPooling {
    private final Parallel parallel;
    private final Scratch sums = new Scratch();

    CpuPooling(Parallel parallel) {
        this.parallel = parallel;
    }

    private static int grain(PoolGeometry g) {
        return Math.max(1, 16384 / (g.h() * g.w()));
    }

    /** First output row (or column) whose window puts tap {@code tap} inside the input. */
    private static int first(int pad, int tap, int stride) {
        return pad > tap ? (pad - tap + stride - 1) / stride : 0;
    }

    /** The first tap inside the input of a window starting at {@code start} (negative in the padding), taps {@code dilation} apart. */
    private static int firstInside(int start, int dilation) {
        return start >= 0 ? start : start + (-start + dilation - 1) / dilation * dilation;
    }

    /** One past the last output row (or column) whose window puts tap {@code tap} inside an input of {@code size}. */
    private static int last(int size, int pad, int tap, int stride, int out) {
        int limit = size - 1 + pad - tap;
        return limit < 0 ? 0 : Math.min(out, limit / stride + 1);
    }

    /**
     * y = window max; mask = flat index (ih·w + iw) of the first maximum in row-major window order.
     * Each output starts from its first tap inside the image; a later tap wins only if strictly
     * greater, decided by the sign of (current − v) with ±0 counted as a tie. Math.max lets a NaN
     * through to y, as in PyTorch.
     */
    void maxForward(float[] y, int[] mask, float[] x, int planes, PoolGeometry g) {
        if (isPlain2x2(g) && Sgemm.VECTOR && VectorPooling.pays(g)) {
            maxForward2x2Vector(y, mask, x, planes, g);
            return;
        }
        if (isPlain2x2(g)) {
            maxForward2x2(y, mask, x, planes, g);
            return;
        }
        maxForwardTaps(y, mask, x, planes, g);
    }

    /**
     * −1 when v takes the window from the current maximum, else 0: when current − v is negative and
     * not −0 (v strictly greater; ±0 is a tie, and a NaN difference with its sign bit set counts, as
     * in {@link VectorPooling}). A mask rather than a branch: a random comparison mispredicts half
     * the time.
     */
    private static int takes(float current, float v) {
        int bits = Float.floatToRawIntBits(current - v);
        return (bits >> 31) & -(((bits & 0x7FFFFFFF) + 0x7FFFFFFF) >>> 31);
    }

    /** 2×2 windows, stride 2, no padding, each inside the input: the common case, and the one the single-pass kernel serves. */
    static boolean isPlain2x2(PoolGeometry g) {
        return g.windowH() == 2 && g.windowW() == 2 && g.strideH() == 2 && g.strideW() == 2 && g.unpadded() && g.undilated() && g.windowsInside();
    }

    /**
     * {@link #maxForwardTaps} for plain 2×2 windows in one pass over the output instead of one per
     * tap, with the same update in the same tap order, so bitwise the same y and mask. Measured with
     * cnn4j bench, before and after in one sitting: fmnist-cnn pool1 (256 × 32 × 26 × 26 in) 10.0-10.9
     * → 4.5-4.8 ms, pool2 3.5-3.8 → 1.9-2.0 ms.
     */
    void maxForward2x2(float[] y, int[] mask, float[] x, int planes, PoolGeometry g) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), hw = h * w, pq = p * q;
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                for (int op = 0; op < p; op++) {
                    int top = 2 * op * w, o = out + op * q;
                    for (int oq = 0; oq < q; oq++) {
                        int i00 = top + 2 * oq;
                        float best = x[in + i00];
                        int idx = i00;
                        // Taps (0,1), (1,0), (1,1) in row-major order, each winning only when strictly greater.
                        for (int t = 1; t < 4; t++) {
                            int i = i00 + (t >> 1) * w + (t & 1);
                            float v = x[in + i];
                            int take = takes(best, v);
                            best = Math.max(best, v);
                            idx += (i - idx) & take;
                        }
                        y[o + oq] = best;
                        mask[o + oq] = idx;
                    }
                }
            }
        });
    }

    /**
     * {@link #maxForward2x2} through {@link VectorPooling}: bitwise the same y and mask. Measured
     * alternating the two kernels in one process (2 threads), fmnist-cnn's pool1 (8,192 planes of
     * 26×26 at batch 256): 4.3-5.2 → 2.3-3.1 ms.
     */
    void maxForward2x2Vector(float[] y, int[] mask, float[] x, int planes, PoolGeometry g) {
        parallel.forRange(planes, grain(g), (lo, hi) -> VectorPooling.maxForward2x2(y, mask, x, lo, hi, g));
    }

    /** Any geometry, tap by tap (see the class comment). */
    void maxForwardTaps(float[] y, int[] mask, float[] x, int planes, PoolGeometry g) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), hw = h * w, pq = p * q;
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                for (int op = 0; op < p; op++) {
                    int ih = firstInside(op * g.strideH() - g.padH(), g.dilationH());
                    for (int oq = 0; oq < q; oq++) {
                        int idx = ih * w + firstInside(oq * g.strideW() - g.padW(), g.dilationW());
                        y[out + op * q + oq] = x[in + idx];
                        mask[out + op * q + oq] = idx;
                    }
                }
                for (int a = 0; a < g.windowH(); a++) {
                    int ta = a * g.dilationH(), opLo = first(g.padH(), ta, g.strideH()), opHi = last(h, g.padH(), ta, g.strideH(), p);
                    for (int b = 0; b < g.windowW(); b++) {
                        int tb = b * g.dilationW(), oqLo = first(g.padW(), tb, g.strideW()), oqHi = last(w, g.padW(), tb, g.strideW(), q);
                        for (int op = opLo; op < opHi; op++) {
                            int row = (op * g.strideH() - g.padH() + ta) * w - g.padW() + tb, o = out + op * q;
                            for (int oq = oqLo; oq < oqHi; oq++) {
                                int idx = row + oq * g.strideW();
                                float v = x[in + idx], current = y[o + oq];
                                int take = takes(current, v);
                                y[o + oq] = Math.max(current, v);
                                mask[o + oq] += (idx - mask[o + oq]) & take;
                            }
                        }
                    }
                }
            }
        });
    }

    /**
     * dx = 0, then dx[mask[o]] += dy[o] for every output o of the plane; with {@code relu} (the
     * pooling's input, a ReLU's output; else null), then dx ∘= (relu > 0) while the plane is in
     * cache, as CpuBackend.activationBackward computes the ReLU's backward (bitwise).
     */
    void maxBackward(float[] dx, float[] dy, int[] mask, float[] relu, int planes, PoolGeometry g) {
        int hw = g.h() * g.w(), pq = g.p() * g.q();
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                Arrays.fill(dx, in, in + hw, 0f);
                for (int o = 0; o < pq; o++) dx[in + mask[out + o]] += dy[out + o];
                if (relu != null) {
                    for (int i = in; i < in + hw; i++) dx[i] = dx[i] * Math.signum(Math.max(relu[i], 0f));
                }
            }
        });
    }

    /** y = (1 / windowH·windowW) · Σ of the window; padding adds zeros. */
    void avgForward(float[] y, float[] x, int planes, PoolGeometry g) {
        windowSums(y, x, planes, g, 1f / (g.windowH() * g.windowW()));
    }

    /** dx(i) = Σ over the windows that cover i of dy / (windowH·windowW). */
    void avgBackward(float[] dx, float[] dy, int planes, PoolGeometry g) {
        spread(dx, dy, null, planes, g, 1f / (g.windowH() * g.windowW()));
    }

    /** y = β(c)·down(x) + b(c); down sums each window. */
    void subsampleForward(float[] y, float[] x, float[] beta, float[] b, int planes, PoolGeometry g) {
        int pq = g.p() * g.q();
        if (isPlain2x2(g)) {
            parallel.forRange(planes, grain(g), (lo, hi) -> {
                for (int plane = lo; plane < hi; plane++) {
                    int c = plane % g.c();
                    sums2x2(y, x, plane, g);
                    for (int o = plane * pq; o < (plane + 1) * pq; o++) y[o] = beta[c] * y[o] + b[c];
                }
            });
            return;
        }
        windowSums(y, x, planes, g, 1f);
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int c = plane % g.c(), out = plane * pq;
                for (int o = 0; o < pq; o++) y[out + o] = beta[c] * y[out + o] + b[c];
            }
        });
    }

    /**
     * dbeta(c) += Σ dy ∘ down(x); db(c) += Σ dy; dx = β(c)·up(dy). The sums are taken plane by
     * plane in parallel (in double, four running sums each), then added up per channel in plane
     * order: the same result whatever the thread count.
     */
    void subsampleBackward(float[] dx, float[] dbeta, float[] db, float[] dy, float[] x, float[] beta,
                           int planes, PoolGeometry g) {
        int pq = g.p() * g.q();
        float[] down = sums.get(planes * pq);
        double[] partial = sums.doubles(2 * planes);
        boolean plain = isPlain2x2(g);
        if (!plain) windowSums(down, x, planes, g, 1f);
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                if (plain) sums2x2(down, x, plane, g);
                int out = plane * pq;
                partial[2 * plane] = CpuConvolution.sum(dy, out, pq);
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                int o = out, end = out + pq;
                for (; o + 4 <= end; o += 4) {
                    s0 += (double) dy[o] * down[o];
                    s1 += (double) dy[o + 1] * down[o + 1];
                    s2 += (double) dy[o + 2] * down[o + 2];
                    s3 += (double) dy[o + 3] * down[o + 3];
                }
                for (; o < end; o++) s0 += (double) dy[o] * down[o];
                partial[2 * plane + 1] = (s0 + s1) + (s2 + s3);
                if (plain) spread2x2(dx, dy, beta[plane % g.c()], plane, g); // the plane's dy is in cache now
            }
        });
        for (int c = 0; c < g.c(); c++) {
            double sb = 0, sbeta = 0;
            for (int plane = c; plane < planes; plane += g.c()) {
                sb += partial[2 * plane];
                sbeta += partial[2 * plane + 1];
            }
            db[c] += (float) sb;
            dbeta[c] += (float) sbeta;
        }
        if (!plain) spread(dx, dy, beta, planes, g, 1f);
    }

    /**
     * One plane of {@link #windowSums} for 2×2 windows with stride 2 and no padding, in one pass:
     * ((0 + x00) + x01) + x10) + x11, the general loop's order and rounding (the 0 turns −0 into +0
     * as there). Measured on LeNet-5's subsampling layers, 256 images, 2 threads, three rounds:
     * S2 (6 planes of 28×28) forward 1.50-1.90 → 0.65-0.81 ms, backward 3.04-3.32 → 1.69-2.11 ms;
     * S4 (16 of 10×10) forward 0.83-1.09 → 0.25-0.39 ms, backward 1.67-1.83 → 0.90-0.96 ms.
     */
    private static void sums2x2(float[] y, float[] x, int plane, PoolGeometry g) {
        int w = g.w(), p = g.p(), q = g.q(), in = plane * g.h() * w, out = plane * p * q;
        for (int op = 0; op < p; op++) {
            int r0 = in + 2 * op * w, r1 = r0 + w, o = out + op * q;
            for (int oq = 0; oq < q; oq++) {
                y[o + oq] = (((0f + x[r0 + 2 * oq]) + x[r0 + 2 * oq + 1]) + x[r1 + 2 * oq]) + x[r1 + 2 * oq + 1];
            }
        }
    }

    /**
     * One plane of {@link #spread} for 2×2 windows with stride 2 and no padding: each input takes
     * 0 + dy·s of the one window that covers it (the general loop's rounding), and 0 where floor
     * mode left it out.
     */
    private static void spread2x2(float[] dx, float[] dy, float s, int plane, PoolGeometry g) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), in = plane * h * w, out = plane * p * q;
        for (int i = 0; i < h; i++) {
            int row = in + i * w;
            if (i >= 2 * p) {
                Arrays.fill(dx, row, row + w, 0f);
                continue;
            }
            int o = out + (i >> 1) * q;
            for (int j = 0; j < 2 * q; j++) dx[row + j] = 0f + dy[o + (j >> 1)] * s;
            Arrays.fill(dx, row + 2 * q, row + w, 0f);
        }
    }

    /** y = scale · (sum of each window), summed tap by tap in row-major window order. */
    private void windowSums(float[] y, float[] x, int planes, PoolGeometry g, float scale) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), hw = h * w, pq = p * q;
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                Arrays.fill(y, out, out + pq, 0f);
                for (int a = 0; a < g.windowH(); a++) {
                    int opLo = first(g.padH(), a, g.strideH()), opHi = last(h, g.padH(), a, g.strideH(), p);
                    for (int b = 0; b < g.windowW(); b++) {
                        int oqLo = first(g.padW(), b, g.strideW()), oqHi = last(w, g.padW(), b, g.strideW(), q);
                        for (int op = opLo; op < opHi; op++) {
                            int row = in + (op * g.strideH() - g.padH() + a) * w - g.padW() + b, o = out + op * q;
                            for (int oq = oqLo; oq < oqHi; oq++) y[o + oq] += x[row + oq * g.strideW()];
                        }
                    }
                }
                if (scale != 1f) for (int o = out; o < out + pq; o++) y[o] *= scale;
            }
        });
    }

    /** dx = 0, then each dy(o)·scale (times β(c) when beta is given) is added to every input its window covers. */
    private void spread(float[] dx, float[] dy, float[] beta, int planes, PoolGeometry g, float scale) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), hw = h * w, pq = p * q;
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                float s = beta == null ? scale : scale * beta[plane % g.c()];
                Arrays.fill(dx, in, in + hw, 0f);
                for (int a = 0; a < g.windowH(); a++) {
                    int opLo = first(g.padH(), a, g.strideH()), opHi = last(h, g.padH(), a, g.strideH(), p);
                    for (int b = 0; b < g.windowW(); b++) {
                        int oqLo = first(g.padW(), b, g.strideW()), oqHi = last(w, g.padW(), b, g.strideW(), q);
                        for (int op = opLo; op < opHi; op++) {
                            int row = in + (op * g.strideH() - g.padH() + a) * w - g.padW() + b, o = out + op * q;
                            for (int oq = oqLo; oq < oqHi; oq++) dx[row + oq * g.strideW()] += dy[o + oq] * s;
                        }
                    }
                }
            }
        });
    }
}
