package org.cnn4j.backend.cpu;

import java.util.Arrays;

import org.cnn4j.backend.ConvGeometry;

/**
 * Convolution on the CPU by im2col and SGEMM over groups of images, or, for each pass of a
 * stride-1 layer where {@link DirectConvolution} measured faster, without im2col.
 *
 * <p>Sizes: n images, c input channels of h×w, k filters of r×s, output p×q; crs = c·r·s, pq = p·q.
 * A group of g images has a column matrix col (crs × g·pq): row (c, r, s) holds, for each output
 * position of each image, the input value that filter tap (r, s) of channel c sees there. Then
 * <pre>
 *   forward:          Y (k × g·pq)   = w (k × crs) · col,        scattered to y (n, k, p, q)
 *   backward-data:    col (crs × g·pq) = wᵀ · DY,  dx = col2im(col)   (the full convolution with rot180(w))
 *   backward-filter:  dw (k × crs)  += DY · colᵀ                      (the valid correlation of x with dy)
 * </pre>
 * where DY (k × g·pq) gathers the group's dy. Groups are sized so that g·pq is about one
 * {@link Sgemm#NC}: single small images (11×11 outputs) would leave the GEMM's rows too short to
 * vectorise well. The filter gradient is summed in fixed chunks of groups, added in chunk order,
 * or, for large layers, with its columns shared between the threads ({@link #splitByTaps}); either
 * way it is the same whatever the number of threads.
 */
final class CpuConvolution {
    /** At most this many partial filter gradients are summed (bounds memory; fixes the summation order). */
    private static final int FILTER_CHUNKS = 16;

    /**
     * Whether stride-1 convolutions take {@link DirectConvolution}'s path where it pays (needs the
     * vector kernel; {@code -Dcnn4j.direct=false} turns it off). Measurements: benchmarks/RESULTS.md,
     * "Measurements behind the CPU kernels' rules".
     */
    static final boolean DIRECT = Sgemm.VECTOR && Boolean.parseBoolean(System.getProperty("cnn4j.direct", "true"));

    private final Parallel parallel;
    /** Null when {@link #DIRECT} is off, so the Vector API class is never loaded without its module. */
    private final DirectConvolution direct;
    private final Scratch cols = new Scratch();
    private final Scratch rows = new Scratch();
    private final Scratch partials = new Scratch();
    private final boolean packedIm2col, byTaps;

    CpuConvolution(Parallel parallel) {
        this(parallel, !"false".equals(System.getProperty("cnn4j.packedIm2col")),
                !"false".equals(System.getProperty("cnn4j.filterByTaps")));
    }

    /**
     * With the gathered, packed columns of the im2col filter gradient on or off, and its split by
     * taps where {@link #splitByTaps} holds on or off (tests and benchmarks compare them).
     */
    CpuConvolution(Parallel parallel, boolean packedIm2col, boolean byTaps) {
        this.parallel = parallel;
        this.direct = DIRECT ? new DirectConvolution(parallel) : null;
        this.packedIm2col = packedIm2col;
        this.byTaps = byTaps;
    }

    /** Images per group: enough for about NC columns, at least 1, at most n. */
    private static int groupSize(ConvGeometry g, int n) {
        return Math.max(1, Math.min(n, Sgemm.NC / (g.p() * g.q())));
    }

    /**
     * Whether each filter covers the whole (unpadded) input, giving one output position: then the
     * convolution is a dense layer on the flattened images, y (n×k) = x (n×crs) · wᵀ, and runs as one
     * multi-threaded product without im2col (LeNet-5's C5).
     */
    static boolean dense(ConvGeometry g) {
        return g.r() == g.h() && g.s() == g.w() && g.padH() == 0 && g.padW() == 0 && g.dilationH() == 1 && g.dilationW() == 1;
    }

    /**
     * y = the convolution, plus bias(k) on each filter's planes when bias is not null (added to the
     * finished sum), then max(y, 0) with {@code relu}.
     */
    void forward(float[] y, float[] x, float[] w, float[] bias, boolean relu, int n, ConvGeometry g) {
        if (dense(g)) {
            int k = g.k(), crs = g.c() * g.r() * g.s();
            Sgemm.multiply(parallel, y, 0, k, x, 0, crs, false, w, 0, crs, true, n, k, crs, 1f, 0f);
            if (bias != null || relu) {
                for (int i = 0; i < n; i++) {
                    for (int f = 0; f < k; f++) {
                        float v = bias == null ? y[i * k + f] : y[i * k + f] + bias[f];
                        y[i * k + f] = relu ? Math.max(v, 0f) : v;
                    }
                }
            }
            return;
        }
        if (direct != null && DirectConvolution.forwardPays(g)) {
            direct.forward(y, x, w, bias, relu, n, g);
            return;
        }
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k();
        int nb = groupSize(g, n), groups = (n + nb - 1) / nb;
        parallel.forEach(groups, group -> {
            int first = group * nb, count = Math.min(nb, n - first), width = count * pq;
            float[] col = cols.get(crs * width), out = rows.get(k * width);
            im2colGroup(col, x, first, count, g, 0, crs);
            Sgemm.multiply(out, 0, width, w, 0, crs, false, col, 0, width, false, k, width, crs, 1f, 0f);
            for (int i = 0; i < count; i++) {
                for (int f = 0; f < k; f++) {
                    int src = f * width + i * pq, dst = ((first + i) * k + f) * pq;
                    float add = bias == null ? 0f : bias[f];
                    if (relu) {
                        for (int j = 0; j < pq; j++) y[dst + j] = Math.max(out[src + j] + add, 0f); // + 0 changes only −0, which max makes +0
                    } else if (bias == null) {
                        System.arraycopy(out, src, y, dst, pq);
                    } else {
                        for (int j = 0; j < pq; j++) y[dst + j] = out[src + j] + add;
                    }
                }
            }
        });
    }

    void backwardData(float[] dx, float[] dy, float[] w, int n, ConvGeometry g) {
        if (dense(g)) { // dx (n×crs) = dy (n×k) · w (k×crs)
            int k = g.k(), crs = g.c() * g.r() * g.s();
            Sgemm.multiply(parallel, dx, 0, crs, dy, 0, k, false, w, 0, crs, false, n, crs, k, 1f, 0f);
            return;
        }
        if (direct != null && DirectConvolution.dataPays(g)) {
            direct.backwardData(dx, dy, w, n, g);
            return;
        }
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k();
        int nb = groupSize(g, n), groups = (n + nb - 1) / nb;
        parallel.forEach(groups, group -> {
            int first = group * nb, count = Math.min(nb, n - first), width = count * pq;
            float[] col = cols.get(crs * width), delta = rows.get(k * width);
            gather(delta, dy, first, count, k, pq);
            Sgemm.multiply(col, 0, width, w, 0, crs, true, delta, 0, width, false, crs, width, k, 1f, 0f);
            for (int i = 0; i < count; i++) col2im(dx, (first + i) * g.c() * g.h() * g.w(), col, i * pq, width, g);
        });
    }

    /**
     * dw += the filter gradient; db += dy summed over images and positions, when db is not null,
     * from the same pass over dy (in double, chunk by chunk in order).
     */
    void backwardFilter(float[] dw, float[] db, float[] x, float[] dy, int n, ConvGeometry g) {
        if (dense(g)) { // dw (k×crs) += dyᵀ (k×n) · x (n×crs); db(f) += Σ_i dy(i, f) in double
            int k = g.k(), crs = g.c() * g.r() * g.s();
            Sgemm.multiply(parallel, dw, 0, crs, dy, 0, k, true, x, 0, crs, false, k, crs, n, 1f, 1f);
            if (db != null) {
                for (int f = 0; f < k; f++) {
                    double sum = 0;
                    for (int i = 0; i < n; i++) sum += dy[i * k + f];
                    db[f] += (float) sum;
                }
            }
            return;
        }
        if (direct != null && DirectConvolution.filterPays(g)) {
            direct.backwardFilter(dw, db, x, dy, n, g);
            return;
        }
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k(), wSize = k * crs;
        boolean transposed = transposedFilterGradient(k, crs), packed = packedIm2col && direct != null && !transposed;
        if (byTaps && !transposed && splitByTaps(g)) {
            filterGradientByTaps(dw, db, x, dy, n, g, packed);
            return;
        }
        int nb = groupSize(g, n), groups = (n + nb - 1) / nb;
        int chunks = Math.min(groups, FILTER_CHUNKS), perChunk = (groups + chunks - 1) / chunks;
        float[] partial = partials.get(chunks * wSize);
        double[] biasPartial = db == null ? null : partials.doubles(chunks * k);
        parallel.forEach(chunks, chunk -> {
            int off = chunk * wSize;
            Arrays.fill(partial, off, off + wSize, 0f);
            if (db != null) Arrays.fill(biasPartial, chunk * k, (chunk + 1) * k, 0);
            for (int group = chunk * perChunk; group < Math.min(groups, (chunk + 1) * perChunk); group++) {
                int first = group * nb, count = Math.min(nb, n - first), width = count * pq;
                float[] delta = rows.get(k * width);
                gather(delta, dy, first, count, k, pq);
                if (db != null) {
                    for (int f = 0; f < k; f++) biasPartial[chunk * k + f] += sum(delta, f * width, width);
                }
                if (transposed) {
                    // partialᵀ (crs × k) += col · deltaᵀ: k, not crs, runs along the vector kernel's rows
                    float[] col = cols.get(crs * width);
                    im2colGroup(col, x, first, count, g, 0, crs);
                    Sgemm.multiply(partial, off, k, col, 0, width, false, delta, 0, width, true, crs, k, width, 1f, 1f);
                } else {
                    addFilterProduct(partial, off, delta, x, first, count, g, 0, crs, packed);
                }
            }
        });
        if (db != null) {
            for (int f = 0; f < k; f++) {
                double s = 0;
                for (int chunk = 0; chunk < chunks; chunk++) s += biasPartial[chunk * k + f];
                db[f] += (float) s;
            }
        }
        for (int chunk = 0; chunk < chunks; chunk++) {
            int off = chunk * wSize;
            if (transposed) {
                for (int f = 0; f < k; f++) for (int j = 0; j < crs; j++) dw[f * crs + j] += partial[off + j * k + f];
            } else {
                for (int j = 0; j < wSize; j++) dw[j] += partial[off + j];
            }
        }
    }

    /**
     * Whether the im2col filter gradient is split between the threads by taps rather than by chunks
     * of images: when one chunk's partial gradient (k·c·r·s floats) outgrows a core's 1 MiB L2, every
     * block of {@link Sgemm#KC} positions sweeps it from further out, and the 16 partials are cleared
     * and added besides. A rule of the layer's shape alone, so the summation order never depends on
     * the thread count.
     */
    static boolean splitByTaps(ConvGeometry g) {
        return (long) g.k() * g.c() * g.r() * g.s() * Float.BYTES > (1 << 20);
    }

    /**
     * dw += the filter gradient with dw's columns (taps) shared between the threads in whole strips
     * of the vector kernel: each task gathers every group's dy, writes only its own taps' columns
     * (packed straight into the kernel's panels, or by im2col) and adds group after group into its
     * columns of dw, so every element is summed in one order however the columns are shared. The
     * first task also sums the bias gradient, in double, from the dy it gathers.
     */
    private void filterGradientByTaps(float[] dw, float[] db, float[] x, float[] dy, int n, ConvGeometry g, boolean packed) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k();
        int nb = groupSize(g, n), groups = (n + nb - 1) / nb;
        int nr = Sgemm.VECTOR ? VectorSgemm.NR : 1, strips = (crs + nr - 1) / nr, parts = Math.min(strips, parallel.threads());
        double[] biasSum = db == null ? null : partials.doubles(k);
        if (biasSum != null) Arrays.fill(biasSum, 0, k, 0);
        parallel.forEach(parts, part -> {
            int t0 = strips * part / parts * nr, t1 = Math.min(crs, strips * (part + 1) / parts * nr);
            float[] delta = rows.get(k * nb * pq);
            for (int group = 0; group < groups; group++) {
                int first = group * nb, count = Math.min(nb, n - first), width = count * pq;
                gather(delta, dy, first, count, k, pq);
                if (biasSum != null && part == 0) {
                    for (int f = 0; f < k; f++) biasSum[f] += sum(delta, f * width, width);
                }
                addFilterProduct(dw, t0, delta, x, first, count, g, t0, t1, packed);
            }
        });
        if (db != null) {
            for (int f = 0; f < k; f++) db[f] += (float) biasSum[f];
        }
    }

    /**
     * The columns from … to−1 of dw (k × c·r·s) for images first … first+count−1, added into c: c[cOff
     * + f·c·r·s + j − from] += Σ over positions of delta(f, position)·col(j, position), with delta the
     * images' gathered dy ({@link #gather}) and colᵀ gathered straight into the vector kernel's packed
     * panels when packed, else written by im2col.
     */
    private void addFilterProduct(float[] c, int cOff, float[] delta, float[] x, int first, int count, ConvGeometry g,
                                  int from, int to, boolean packed) {
        int crs = g.c() * g.r() * g.s(), k = g.k(), width = count * g.p() * g.q(), taps = to - from;
        if (packed) {
            float[] panels = cols.get(width * VectorSgemm.paddedWidth(taps));
            direct.packedColumns(panels, x, first, count, g, from, to);
            VectorSgemm.accumulatePacked(c, cOff, crs, delta, 0, width, false, panels, k, taps, width);
        } else {
            float[] col = cols.get(taps * width);
            im2colGroup(col, x, first, count, g, from, to);
            Sgemm.multiply(c, cOff, crs, delta, 0, width, false, col, 0, width, true, k, taps, width, 1f, 1f);
        }
    }

    /** Σ v[from … from+length) in double, four running sums (one chain would wait on the adder every element). */
    static double sum(float[] v, int from, int length) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = from, end = from + length;
        for (; j + 4 <= end; j += 4) {
            s0 += v[j];
            s1 += v[j + 1];
            s2 += v[j + 2];
            s3 += v[j + 3];
        }
        for (; j < end; j++) s0 += v[j];
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * Whether the filter gradient is better computed transposed: the vector kernel fills its
     * columns {@link VectorSgemm#NR} at a time, so the product runs with whichever of k and c·r·s
     * wastes fewer of them as its columns (conv1 of fmnist-cnn: crs = 9 wastes 23 of 32, k = 32 none).
     */
    static boolean transposedFilterGradient(int k, int crs) {
        return Sgemm.VECTOR && transposedFilterGradient(k, crs, VectorSgemm.NR);
    }

    /** {@link #transposedFilterGradient(int, int)} for a kernel of {@code nr} columns a strip (its rule on any machine). */
    static boolean transposedFilterGradient(int k, int crs, int nr) {
        return (crs + nr - 1) / nr * nr - crs > (k + nr - 1) / nr * nr - k;
    }

    /** col ((to − from) × count·pq) = rows from … to−1 of the columns of images first … first+count−1, side by side. */
    private static void im2colGroup(float[] col, float[] x, int first, int count, ConvGeometry g, int from, int to) {
        int pq = g.p() * g.q(), xSize = g.c() * g.h() * g.w();
        for (int i = 0; i < count; i++) im2col(col, i * pq, count * pq, x, (first + i) * xSize, g, from, to);
    }

    /** delta (k × count·pq) = the dy planes of images first … first+count−1, side by side. */
    private static void gather(float[] delta, float[] dy, int first, int count, int k, int pq) {
        int width = count * pq;
        for (int i = 0; i < count; i++) {
            for (int f = 0; f < k; f++) System.arraycopy(dy, ((first + i) * k + f) * pq, delta, f * width + i * pq, pq);
        }
    }

    /**
     * Writes rows from … to−1 of one image's columns: row (c·r + rr)·s + ss, at col[colOff + (row −
     * from)·ldCol + p·q + qq], = x(c, p·sh − ph + rr·dh, q·sw − pw + ss·dw), 0 outside the image.
     */
    static void im2col(float[] col, int colOff, int ldCol, float[] x, int xOff, ConvGeometry g, int from, int to) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        int row = 0;
        for (int c = 0; c < g.c(); c++) {
            int plane = xOff + c * h * w;
            for (int rr = 0; rr < g.r(); rr++) {
                for (int ss = 0; ss < g.s(); ss++, row++) {
                    if (row < from || row >= to) continue;
                    int dst = colOff + (row - from) * ldCol;
                    int colShift = ss * g.dilationW() - g.padW();
                    for (int pp = 0; pp < p; pp++) {
                        int ih = pp * g.strideH() - g.padH() + rr * g.dilationH();
                        int out = dst + pp * q;
                        if (ih < 0 || ih >= h) {
                            Arrays.fill(col, out, out + q, 0f);
                            continue;
                        }
                        int src = plane + ih * w;
                        if (g.strideW() == 1 && colShift >= 0 && colShift + q <= w) {
                            System.arraycopy(x, src + colShift, col, out, q);
                            continue;
                        }
                        for (int qq = 0; qq < q; qq++) {
                            int iw = qq * g.strideW() + colShift;
                            col[out + qq] = iw >= 0 && iw < w ? x[src + iw] : 0f;
                        }
                    }
                }
            }
        }
    }

    /** The adjoint of im2col for one image: dx(c, ih, iw) = Σ of the col entries that read it. Overwrites dx's image. */
    static void col2im(float[] dx, int xOff, float[] col, int colOff, int ldCol, ConvGeometry g) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        Arrays.fill(dx, xOff, xOff + g.c() * h * w, 0f);
        int row = 0;
        for (int c = 0; c < g.c(); c++) {
            int plane = xOff + c * h * w;
            for (int rr = 0; rr < g.r(); rr++) {
                for (int ss = 0; ss < g.s(); ss++, row++) {
                    int src = colOff + row * ldCol;
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
