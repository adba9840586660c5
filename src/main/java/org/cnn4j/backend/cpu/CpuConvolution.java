package org.cnn4j.backend.cpu;

import org.cnn4j.backend.ConvGeometry;

/**
 * Convolution on the CPU by im2col and SGEMM, one image per task.
 *
 * <p>Sizes: n images, c input channels of h×w, k filters of r×s, output p×q. For image i the
 * column matrix col (c·r·s × p·q) holds in row (c, r, s) the input values that filter tap (r, s)
 * of channel c sees at each output position; then
 * <pre>
 *   forward:          y_i (k × pq)   = w (k × crs) · col_i
 *   backward-data:    col (crs × pq) = wᵀ · dy_i,  dx_i = col2im(col)   (the full convolution with rot180(w))
 *   backward-filter:  dw (k × crs)  += dy_i · col_iᵀ                    (the valid correlation of x with dy)
 * </pre>
 * A 1×1 filter with stride 1 and no padding needs no col matrix: x_i itself is (c × hw).
 * The filter gradient sums images in fixed chunks and adds the chunks in order, so it is the same
 * whatever the number of threads.
 */
final class CpuConvolution {
    /** At most this many partial filter gradients are summed (bounds memory; fixes the summation order). */
    private static final int FILTER_CHUNKS = 16;

    private final Parallel parallel;
    private final Scratch cols = new Scratch();
    private final Scratch partials = new Scratch();

    CpuConvolution(Parallel parallel) {
        this.parallel = parallel;
    }

    private static boolean isPointwise(ConvGeometry g) {
        return g.r() == 1 && g.s() == 1 && g.strideH() == 1 && g.strideW() == 1 && g.padH() == 0 && g.padW() == 0;
    }

    void forward(float[] y, float[] x, float[] w, int n, ConvGeometry g) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q();
        int xSize = g.c() * g.h() * g.w(), ySize = g.k() * pq;
        parallel.forEach(n, i -> {
            float[] col;
            int colOff;
            if (isPointwise(g)) {
                col = x;
                colOff = i * xSize;
            } else {
                col = cols.get(crs * pq);
                colOff = 0;
                im2col(col, x, i * xSize, g);
            }
            Sgemm.multiply(y, i * ySize, pq, w, 0, crs, false, col, colOff, pq, false, g.k(), pq, crs, 1f, 0f);
        });
    }

    void backwardData(float[] dx, float[] dy, float[] w, int n, ConvGeometry g) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q();
        int xSize = g.c() * g.h() * g.w(), ySize = g.k() * pq;
        parallel.forEach(n, i -> {
            if (isPointwise(g)) {
                Sgemm.multiply(dx, i * xSize, pq, w, 0, crs, true, dy, i * ySize, pq, false, crs, pq, g.k(), 1f, 0f);
                return;
            }
            float[] col = cols.get(crs * pq);
            Sgemm.multiply(col, 0, pq, w, 0, crs, true, dy, i * ySize, pq, false, crs, pq, g.k(), 1f, 0f);
            col2im(dx, i * xSize, col, g);
        });
    }

    void backwardFilter(float[] dw, float[] x, float[] dy, int n, ConvGeometry g) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q();
        int xSize = g.c() * g.h() * g.w(), ySize = g.k() * pq, wSize = g.k() * crs;
        int chunks = Math.min(n, FILTER_CHUNKS);
        int perChunk = (n + chunks - 1) / chunks;
        float[] partial = partials.get(chunks * wSize);
        parallel.forEach(chunks, chunk -> {
            int off = chunk * wSize;
            java.util.Arrays.fill(partial, off, off + wSize, 0f);
            for (int i = chunk * perChunk; i < Math.min(n, (chunk + 1) * perChunk); i++) {
                float[] col;
                int colOff;
                if (isPointwise(g)) {
                    col = x;
                    colOff = i * xSize;
                } else {
                    col = cols.get(crs * pq);
                    colOff = 0;
                    im2col(col, x, i * xSize, g);
                }
                Sgemm.multiply(partial, off, crs, dy, i * ySize, pq, false, col, colOff, pq, true, g.k(), crs, pq, 1f, 1f);
            }
        });
        for (int chunk = 0; chunk < chunks; chunk++) {
            int off = chunk * wSize;
            for (int j = 0; j < wSize; j++) dw[j] += partial[off + j];
        }
    }

    /** col(row = (c·r + rr)·s + ss, p·q + qq) = x(c, p·sh − ph + rr·dh, q·sw − pw + ss·dw), 0 outside. */
    static void im2col(float[] col, float[] x, int xOff, ConvGeometry g) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        int row = 0;
        for (int c = 0; c < g.c(); c++) {
            int plane = xOff + c * h * w;
            for (int rr = 0; rr < g.r(); rr++) {
                for (int ss = 0; ss < g.s(); ss++, row++) {
                    int dst = row * p * q;
                    int colShift = ss * g.dilationW() - g.padW();
                    for (int pp = 0; pp < p; pp++) {
                        int ih = pp * g.strideH() - g.padH() + rr * g.dilationH();
                        int out = dst + pp * q;
                        if (ih < 0 || ih >= h) {
                            java.util.Arrays.fill(col, out, out + q, 0f);
                            continue;
                        }
                        int src = plane + ih * w;
                        for (int qq = 0; qq < q; qq++) {
                            int iw = qq * g.strideW() + colShift;
                            col[out + qq] = iw >= 0 && iw < w ? x[src + iw] : 0f;
                        }
                    }
                }
            }
        }
    }

    /** The adjoint of im2col: dx(c, ih, iw) = Σ of the col entries that read it. Overwrites dx's image. */
    static void col2im(float[] dx, int xOff, float[] col, ConvGeometry g) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        java.util.Arrays.fill(dx, xOff, xOff + g.c() * h * w, 0f);
        int row = 0;
        for (int c = 0; c < g.c(); c++) {
            int plane = xOff + c * h * w;
            for (int rr = 0; rr < g.r(); rr++) {
                for (int ss = 0; ss < g.s(); ss++, row++) {
                    int src = row * p * q;
                    int colShift = ss * g.dilationW() - g.padW();
                    for (int pp = 0; pp < p; pp++) {
                        int ih = pp * g.strideH() - g.padH() + rr * g.dilationH();
                        if (ih < 0 || ih >= h) continue;
                        int dst = plane + ih * w;
                        int in = src + pp * q;
                        for (int qq = 0; qq < q; qq++) {
                            int iw = qq * g.strideW() + colShift;
                            if (iw >= 0 && iw < w) dx[dst + iw] += col[in + qq];
                        }
                    }
                }
            }
        }
    }
}
