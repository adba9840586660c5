package org.cnn4j.backend.cpu;

import org.cnn4j.backend.PoolGeometry;

/**
 * Max and average pooling and seed 003's subsampling on the CPU, one (image, channel) plane per
 * task. Sizes: planes = n·c, each h×w in and p×q out; window windowH×windowW every
 * strideH, strideW after padH, padW of padding (see {@link PoolGeometry}).
 */
final class CpuPooling {
    private final Parallel parallel;

    CpuPooling(Parallel parallel) {
        this.parallel = parallel;
    }

    private static int grain(PoolGeometry g) {
        return Math.max(1, 4096 / (g.h() * g.w()));
    }

    /**
     * y = window max; mask = flat index (ih·w + iw) of the first maximum in row-major window order.
     * A NaN wins over any number, as in PyTorch, so it propagates.
     */
    void maxForward(float[] y, int[] mask, float[] x, int planes, PoolGeometry g) {
        int hw = g.h() * g.w(), pq = g.p() * g.q();
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                for (int op = 0; op < g.p(); op++) {
                    int h0 = op * g.strideH() - g.padH();
                    int hs = Math.max(h0, 0), he = Math.min(h0 + g.windowH(), g.h());
                    for (int oq = 0; oq < g.q(); oq++) {
                        int w0 = oq * g.strideW() - g.padW();
                        int ws = Math.max(w0, 0), we = Math.min(w0 + g.windowW(), g.w());
                        int best = hs * g.w() + ws;
                        float max = x[in + best];
                        for (int ih = hs; ih < he; ih++) {
                            for (int iw = ws; iw < we; iw++) {
                                float v = x[in + ih * g.w() + iw];
                                if (v > max || Float.isNaN(v)) {
                                    max = v;
                                    best = ih * g.w() + iw;
                                }
                            }
                        }
                        y[out + op * g.q() + oq] = max;
                        mask[out + op * g.q() + oq] = best;
                    }
                }
            }
        });
    }

    /** dx = 0, then dx[mask[o]] += dy[o] for every output o of the plane. */
    void maxBackward(float[] dx, float[] dy, int[] mask, int planes, PoolGeometry g) {
        int hw = g.h() * g.w(), pq = g.p() * g.q();
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                java.util.Arrays.fill(dx, in, in + hw, 0f);
                for (int o = 0; o < pq; o++) dx[in + mask[out + o]] += dy[out + o];
            }
        });
    }

    /** y = (1 / windowH·windowW) · Σ of the window; padding adds zeros. */
    void avgForward(float[] y, float[] x, int planes, PoolGeometry g) {
        float scale = 1f / (g.windowH() * g.windowW());
        windowSums(y, x, planes, g, scale);
    }

    /** dx(i) = Σ over the windows that cover i of dy / (windowH·windowW). */
    void avgBackward(float[] dx, float[] dy, int planes, PoolGeometry g) {
        float scale = 1f / (g.windowH() * g.windowW());
        spread(dx, dy, null, planes, g, scale);
    }

    /** y = β(c)·down(x) + b(c); down sums each window. */
    void subsampleForward(float[] y, float[] x, float[] beta, float[] b, int planes, PoolGeometry g) {
        windowSums(y, x, planes, g, 1f);
        int pq = g.p() * g.q();
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int c = plane % g.c(), out = plane * pq;
                for (int o = 0; o < pq; o++) y[out + o] = beta[c] * y[out + o] + b[c];
            }
        });
    }

    /** dbeta(c) += Σ dy ∘ down(x); db(c) += Σ dy; dx = β(c)·up(dy). */
    void subsampleBackward(float[] dx, float[] dbeta, float[] db, float[] dy, float[] x, float[] beta,
                           int planes, PoolGeometry g) {
        int pq = g.p() * g.q();
        float[] down = new float[planes * pq];
        windowSums(down, x, planes, g, 1f);
        // Sum over the batch in double, in plane order: the same result whatever the thread count.
        for (int c = 0; c < g.c(); c++) {
            double sb = 0, sbeta = 0;
            for (int plane = c; plane < planes; plane += g.c()) {
                int out = plane * pq;
                for (int o = 0; o < pq; o++) {
                    sb += dy[out + o];
                    sbeta += (double) dy[out + o] * down[out + o];
                }
            }
            db[c] += (float) sb;
            dbeta[c] += (float) sbeta;
        }
        spread(dx, dy, beta, planes, g, 1f);
    }

    private void windowSums(float[] y, float[] x, int planes, PoolGeometry g, float scale) {
        int hw = g.h() * g.w(), pq = g.p() * g.q();
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                for (int op = 0; op < g.p(); op++) {
                    int h0 = op * g.strideH() - g.padH();
                    int hs = Math.max(h0, 0), he = Math.min(h0 + g.windowH(), g.h());
                    for (int oq = 0; oq < g.q(); oq++) {
                        int w0 = oq * g.strideW() - g.padW();
                        int ws = Math.max(w0, 0), we = Math.min(w0 + g.windowW(), g.w());
                        float sum = 0f;
                        for (int ih = hs; ih < he; ih++) {
                            for (int iw = ws; iw < we; iw++) sum += x[in + ih * g.w() + iw];
                        }
                        y[out + op * g.q() + oq] = sum * scale;
                    }
                }
            }
        });
    }

    /** dx = 0, then each dy(o)·scale (times β(c) when beta is given) is added to every input its window covers. */
    private void spread(float[] dx, float[] dy, float[] beta, int planes, PoolGeometry g, float scale) {
        int hw = g.h() * g.w(), pq = g.p() * g.q();
        parallel.forRange(planes, grain(g), (lo, hi) -> {
            for (int plane = lo; plane < hi; plane++) {
                int in = plane * hw, out = plane * pq;
                float s = beta == null ? scale : scale * beta[plane % g.c()];
                java.util.Arrays.fill(dx, in, in + hw, 0f);
                for (int op = 0; op < g.p(); op++) {
                    int h0 = op * g.strideH() - g.padH();
                    int hs = Math.max(h0, 0), he = Math.min(h0 + g.windowH(), g.h());
                    for (int oq = 0; oq < g.q(); oq++) {
                        int w0 = oq * g.strideW() - g.padW();
                        int ws = Math.max(w0, 0), we = Math.min(w0 + g.windowW(), g.w());
                        float d = dy[out + op * g.q() + oq] * s;
                        for (int ih = hs; ih < he; ih++) {
                            for (int iw = ws; iw < we; iw++) dx[in + ih * g.w() + iw] += d;
                        }
                    }
                }
            }
        });
    }
}
