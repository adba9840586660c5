package org.cnn4j.backend.cpu;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import org.cnn4j.backend.ConvGeometry;

/**
 * Convolution without im2col, for stride 1. It serves where im2col's product is a poor GEMM (an
 * inner dimension of 9 for a first layer, 16 rows for lenet5's C3) or where the extra pass over
 * memory costs more than the positions this path computes and drops (below); {@link #forwardPays},
 * {@link #dataPays} and {@link #filterPays} hold the measured rules.
 *
 * <p>Each image is copied, zero-padded, into a plane of width W = w + 2·padW. Output position
 * (pp, qq) then reads tap t = (c, r, s) at offset {@code off[t] = c·H·W + r·dilationH·W +
 * s·dilationW} from the "wide" index i = pp·W + qq, so with i running over whole padded rows every
 * tap's inputs are one contiguous run of the padded image. Positions with qq ≥ q are computed and
 * dropped (W/q more work: 28/26 for fmnist-cnn's conv1), which buys unit-stride vector loads:
 * <pre>
 *   forward:          wide(f, i) = Σ_t w(f, t) · xp(i + off[t]),        y(f, pp, qq) = wide(f, pp·W + qq)
 *   backward-filter:  dw(f, t)  += Σ_images Σ_i dyw(f, i) · xp(i + off[t])
 * </pre>
 * where dyw is dy laid out wide with zeros at the dropped positions. The forward kernel holds a
 * tile of 4 filters × 2 vectors of positions (the GEMM kernel's shape, with its B rows read in
 * place); the filter kernel holds 4 filters × 4 taps, each accumulator summing lane-wise over
 * positions. Both sum each output in one fixed order; the filter gradient sums fixed chunks of
 * images in chunk order, so nothing depends on the thread count. The data gradient is the forward
 * pass of dy with the filters turned 180° and transposed ({@link #dataGeometry}).
 */
final class DirectConvolution {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** VectorSgemm's tile: its kernel's shape, and the packed layout {@link #packedColumns} writes for it. */
    private static final int L = S.length(), MR = VectorSgemm.MR, NR = VectorSgemm.NR;
    /** At most this many partial filter gradients are summed, in order. */
    private static final int FILTER_CHUNKS = 16;

    private final Parallel parallel;
    private final Scratch padded = new Scratch();
    private final Scratch wides = new Scratch();
    private final Scratch packed = new Scratch();
    private final Scratch partials = new Scratch();
    private final Scratch flipped = new Scratch();
    private final Scratch biases = new Scratch();

    DirectConvolution(Parallel parallel) {
        this.parallel = parallel;
    }

    /**
     * Whether the forward pass is faster here: stride 1 and at most 1.6 times the positions
     * computed (whole padded rows, rounded up to a vector). Measured against im2col, 2 threads:
     * fmnist-cnn conv2 (13×13) 10.6 → 8.0-8.7 ms, vgg-small 32×32 layers 52-55 → 28 ms, 16×16 17-18 →
     * 13 ms, 8×8 even; lenet5 C3 (ratio 1.6 then, rows rounded up to two vectors; 1.44 now) 2.1-2.6 → 1.3-1.5 ms;
     * C5 (a 1×1 output, ratio 32) 1.2 → 3.7 ms.
     */
    static boolean forwardPays(ConvGeometry g) {
        return g.strideH() == 1 && g.strideW() == 1 && wideLength(g) <= 1.6 * g.p() * g.q();
    }

    /**
     * Whether the filter gradient is faster here: stride 1, and few taps (c·r·s ≤ 32), few filters
     * (k ≤ 16: im2col's product then has 16 rows), or long images with little waste. Its kernel
     * passes over each image once per 4 filters × 4 taps, so short wide rows lose.
     */
    static boolean filterPays(ConvGeometry g) {
        if (g.strideH() != 1 || g.strideW() != 1) return false;
        int wide = wideLength(g);
        return g.c() * g.r() * g.s() <= 32 || g.k() <= 16 || (wide >= 1024 && wide <= 1.25 * g.p() * g.q());
    }

    /**
     * The data gradient as a forward convolution: dx is the full correlation of dy with the filters
     * turned 180° and their in/out channels swapped, i.e. a stride-1 convolution of dy (k channels
     * of p×q) padded by dilation·(r − 1) − pad, giving c channels of h×w.
     */
    static ConvGeometry dataGeometry(ConvGeometry g) {
        return new ConvGeometry(g.k(), g.p(), g.q(), g.c(), g.r(), g.s(), g.dilationH() * (g.r() - 1) - g.padH(),
                g.dilationW() * (g.s() - 1) - g.padW(), 1, 1, g.dilationH(), g.dilationW());
    }

    /**
     * Whether the data gradient is faster here: stride 1, padding within the filter's reach, and
     * {@link #forwardPays} for {@link #dataGeometry}. Measured against im2col and col2im, 2 threads:
     * fmnist-cnn conv2 12.5-14.3 → 11.2 ms, vgg-small 32×32 44-52 → 25 ms, 16×16 18-19 → 13.5 ms,
     * 8×8 even, lenet5 C3 3.7-3.9 → 2.4 ms.
     */
    static boolean dataPays(ConvGeometry g) {
        return g.strideH() == 1 && g.strideW() == 1 && g.padH() <= g.dilationH() * (g.r() - 1)
                && g.padW() <= g.dilationW() * (g.s() - 1) && forwardPays(dataGeometry(g));
    }

    /** dx = the data gradient (overwritten), as {@link #forward} of dy with the turned, transposed filters. */
    void backwardData(float[] dx, float[] dy, float[] w, int n, ConvGeometry g) {
        int c = g.c(), k = g.k(), r = g.r(), s = g.s();
        float[] turned = flipped.get(w.length);
        for (int f = 0; f < k; f++) {
            for (int ch = 0; ch < c; ch++) {
                for (int rr = 0; rr < r; rr++) {
                    for (int ss = 0; ss < s; ss++) {
                        turned[((ch * k + f) * r + rr) * s + ss] = w[((f * c + ch) * r + (r - 1 - rr)) * s + (s - 1 - ss)];
                    }
                }
            }
        }
        forward(dx, dy, turned, null, false, n, dataGeometry(g));
    }

    /**
     * Positions computed per filter and image: whole padded rows, rounded up to a vector (the last
     * vector, where the tile's two do not fit, goes through {@link #forwardTail}).
     */
    private static int wideLength(ConvGeometry g) {
        return VectorSgemm.roundUp(g.p() * (g.w() + 2 * g.padW()), L);
    }

    /** The layout of each geometry met, made once (a step then allocates nothing here). */
    private final Map<ConvGeometry, Layout> layouts = new ConcurrentHashMap<>();

    private Layout layout(ConvGeometry g) {
        return layouts.computeIfAbsent(g, Layout::of);
    }

    /** The padded image's layout and the taps' offsets in it. */
    private record Layout(int planeW, int planeSize, int wideLength, int paddedLength, int[] offsets) {
        static Layout of(ConvGeometry g) {
            int planeW = g.w() + 2 * g.padW(), planeH = g.h() + 2 * g.padH(), planeSize = planeW * planeH;
            int wideLength = DirectConvolution.wideLength(g);
            int[] offsets = new int[g.c() * g.r() * g.s()];
            int t = 0;
            for (int c = 0; c < g.c(); c++) {
                for (int r = 0; r < g.r(); r++) {
                    for (int s = 0; s < g.s(); s++) offsets[t++] = c * planeSize + r * g.dilationH() * planeW + s * g.dilationW();
                }
            }
            // the last tap reads wideLength values from its offset; the planes themselves must fit too
            int paddedLength = Math.max(g.c() * planeSize, offsets[t - 1] + wideLength);
            return new Layout(planeW, planeSize, wideLength, paddedLength, offsets);
        }
    }

    /** y = the convolution, plus bias(f) on filter f's planes when bias is not null (added to the finished sum), then max(y, 0) with relu. */
    void forward(float[] y, float[] x, float[] w, float[] bias, boolean relu, int n, ConvGeometry g) {
        Layout lay = layout(g);
        int k = g.k(), taps = lay.offsets.length, strips = (k + MR - 1) / MR, p = g.p(), q = g.q(), pq = p * q;
        float[] pw = packFilters(w, k, taps, strips);
        float[] pb = bias == null ? null : biases.get(strips * MR);
        if (bias != null) {
            System.arraycopy(bias, 0, pb, 0, k);
            Arrays.fill(pb, k, strips * MR, 0f);
        }
        parallel.forEach(n, image -> {
            float[] xp = padded.get(lay.paddedLength), wide = wides.get(strips * MR * lay.wideLength);
            pad(xp, x, image, g, lay);
            for (int fs = 0; fs < strips; fs++) {
                int out = fs * MR * lay.wideLength;
                int i0 = 0;
                for (; i0 + NR <= lay.wideLength; i0 += NR) {
                    forwardKernel(pw, fs * taps * MR, taps, xp, lay.offsets, i0, wide, out + i0, lay.wideLength, pb, fs * MR);
                }
                if (i0 < lay.wideLength) { // one vector of positions left
                    forwardTail(pw, fs * taps * MR, taps, xp, lay.offsets, i0, wide, out + i0, lay.wideLength, pb, fs * MR);
                }
            }
            for (int f = 0; f < k; f++) {
                for (int pp = 0; pp < p; pp++) {
                    int from = f * lay.wideLength + pp * lay.planeW, to = (image * k + f) * pq + pp * q;
                    if (relu) {
                        for (int j = 0; j < q; j++) y[to + j] = Math.max(wide[from + j], 0f);
                    } else {
                        System.arraycopy(wide, from, y, to, q);
                    }
                }
            }
        });
    }

    /** dw += the filter gradient; db += dy summed over images and positions when db is not null (lane sums of the wide dy). */
    void backwardFilter(float[] dw, float[] db, float[] x, float[] dy, int n, ConvGeometry g) {
        Layout lay = layout(g);
        int[] off = lay.offsets;
        int k = g.k(), taps = off.length, strips = (k + MR - 1) / MR, tapQuads = (taps + 3) / 4;
        int p = g.p(), q = g.q(), pq = p * q;
        int chunks = Math.min(n, FILTER_CHUNKS), perChunk = (n + chunks - 1) / chunks;
        int filterSize = strips * tapQuads * 16 * L, chunkSize = filterSize + (db == null ? 0 : k * L);
        float[] partial = partials.get(chunks * chunkSize);
        parallel.forEach(chunks, chunk -> {
            float[] xp = padded.get(lay.paddedLength), dyw = wides.get(strips * MR * lay.wideLength);
            int acc = chunk * chunkSize;
            Arrays.fill(partial, acc, acc + chunkSize, 0f);
            Arrays.fill(dyw, 0, strips * MR * lay.wideLength, 0f); // dropped positions and missing filters stay 0
            for (int image = chunk * perChunk; image < Math.min(n, (chunk + 1) * perChunk); image++) {
                pad(xp, x, image, g, lay);
                for (int f = 0; f < k; f++) {
                    for (int pp = 0; pp < p; pp++) {
                        System.arraycopy(dy, (image * k + f) * pq + pp * q, dyw, f * lay.wideLength + pp * lay.planeW, q);
                    }
                }
                if (db != null) {
                    for (int f = 0; f < k; f++) laneSums(dyw, f * lay.wideLength, lay.wideLength, partial, acc + filterSize + f * L);
                }
                for (int fs = 0; fs < strips; fs++) {
                    for (int tq = 0; tq < tapQuads; tq++) {
                        int t0 = 4 * tq, last = taps - 1; // past the last tap, repeat it (those sums are never read)
                        filterKernel(dyw, fs * MR * lay.wideLength, lay.wideLength, xp, off[t0], off[Math.min(last, t0 + 1)],
                                off[Math.min(last, t0 + 2)], off[Math.min(last, t0 + 3)], partial, acc + (fs * tapQuads + tq) * 16 * L);
                    }
                }
            }
        });
        if (db != null) {
            for (int f = 0; f < k; f++) {
                double s = 0;
                for (int chunk = 0; chunk < chunks; chunk++) {
                    for (int lane = 0; lane < L; lane++) s += partial[chunk * chunkSize + filterSize + f * L + lane];
                }
                db[f] += (float) s;
            }
        }
        for (int chunk = 0; chunk < chunks; chunk++) {
            int acc = chunk * chunkSize;
            for (int f = 0; f < k; f++) {
                int fs = f / MR, r = f % MR;
                for (int t = 0; t < taps; t++) {
                    int at = acc + ((fs * tapQuads + t / 4) * 16 + r * 4 + t % 4) * L;
                    float sum = 0f;
                    for (int lane = 0; lane < L; lane++) sum += partial[at + lane];
                    dw[f * taps + t] += sum;
                }
            }
        }
    }

    /**
     * acc[at + lane] += Σ v[from + i] over i ≡ lane (mod L), i < length (a multiple of L). Its own
     * small method: inside the big per-chunk loop C2 kept the running vector boxed (measured: the
     * bias gradient then cost more than a separate pass).
     */
    private static void laneSums(float[] v, int from, int length, float[] acc, int at) {
        FloatVector s = FloatVector.fromArray(S, acc, at);
        for (int i = 0; i < length; i += L) s = s.add(FloatVector.fromArray(S, v, from + i));
        s.intoArray(acc, at);
    }

    /** pw[(strip·taps + t)·MR + r] = w(strip·MR + r, t), zero for the filters past k. */
    private float[] packFilters(float[] w, int k, int taps, int strips) {
        float[] pw = packed.get(strips * taps * MR);
        for (int fs = 0; fs < strips; fs++) {
            for (int t = 0; t < taps; t++) {
                for (int r = 0; r < MR; r++) {
                    int f = fs * MR + r;
                    pw[(fs * taps + t) * MR + r] = f < k ? w[f * taps + t] : 0f;
                }
            }
        }
        return pw;
    }

    /**
     * Columns from … to−1 (taps; from a whole number of strips of NR) of images first … first+count−1
     * as {@link VectorSgemm#accumulatePacked} reads op(B) = colᵀ for those columns: for each block of
     * {@link Sgemm#KC} positions and each strip of NR taps, the kc × NR block of col(tap, position),
     * 0 for taps past c·r·s. Each image is padded once; a position's NR taps are then NR values of
     * the padded image at the taps' offsets from the position, gathered two vectors at a time and
     * stored contiguously. The same numbers as im2col and packing.
     */
    void packedColumns(float[] dst, float[] x, int first, int count, ConvGeometry g, int from, int to) {
        Layout lay = layout(g);
        int taps = lay.offsets.length, tapColumns = VectorSgemm.paddedWidth(to - from), pq = g.p() * g.q();
        if (from % NR != 0 || from < 0 || to > taps || from >= to) {
            throw new IllegalArgumentException("tap range [" + from + ", " + to + ") of " + taps + " must start on a strip of " + NR);
        }
        int zeroPlane = g.c() * lay.planeSize, length = Math.max(lay.paddedLength, zeroPlane + lay.planeSize);
        int[] gather = gatherOffsets.computeIfAbsent(g, k -> {
            int[] o = Arrays.copyOf(lay.offsets, VectorSgemm.paddedWidth(taps));
            Arrays.fill(o, taps, o.length, zeroPlane); // past the last tap: a plane of zeros
            return o;
        });
        float[] xp = padded.get(length);
        int width = count * pq;
        for (int i = 0; i < count; i++) {
            pad(xp, x, first + i, g, lay);
            Arrays.fill(xp, lay.paddedLength, length, 0f);
            for (int pp = 0; pp < g.p(); pp++) {
                for (int qq = 0; qq < g.q(); qq++) {
                    int position = i * pq + pp * g.q() + qq, p0 = position / Sgemm.KC * Sgemm.KC;
                    int kc = Math.min(Sgemm.KC, width - p0), at = p0 * tapColumns + (position - p0) * NR;
                    int base = pp * g.strideH() * lay.planeW + qq * g.strideW();
                    for (int strip = 0; strip < tapColumns; strip += NR) {
                        FloatVector.fromArray(S, xp, base, gather, from + strip).intoArray(dst, at + strip * kc);
                        FloatVector.fromArray(S, xp, base, gather, from + strip + L).intoArray(dst, at + strip * kc + L);
                    }
                }
            }
        }
    }

    private final Map<ConvGeometry, int[]> gatherOffsets = new ConcurrentHashMap<>();

    /** xp = the image's planes with their zero border, then zeros to the padded length. */
    private static void pad(float[] xp, float[] x, int image, ConvGeometry g, Layout lay) {
        int hw = g.h() * g.w(), src = image * g.c() * hw;
        if (g.padH() == 0 && g.padW() == 0) {
            System.arraycopy(x, src, xp, 0, g.c() * hw);
            Arrays.fill(xp, g.c() * hw, lay.paddedLength, 0f);
            return;
        }
        Arrays.fill(xp, 0, lay.paddedLength, 0f);
        for (int c = 0; c < g.c(); c++) {
            for (int row = 0; row < g.h(); row++) {
                System.arraycopy(x, src + c * hw + row * g.w(), xp,
                        c * lay.planeSize + (row + g.padH()) * lay.planeW + g.padW(), g.w());
            }
        }
    }

    /**
     * wide[out + r·ld + j] = Σ_t pw(t, r)·xp[off[t] + i0 + j] (+ pb[bAt + r] on the finished sum when
     * pb is not null) for 4 filters and NR positions.
     */
    private static void forwardKernel(float[] pw, int at, int taps, float[] xp, int[] off, int i0, float[] wide, int out, int ld,
                                      float[] pb, int bAt) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        // The tile update of VectorSgemm's kernel, written again rather than shared: a helper taking
        // the eight accumulators would not be inlined, and C2 would box them on every call.
        for (int t = 0; t < taps; t++) {
            int o = off[t] + i0;
            FloatVector b0 = FloatVector.fromArray(S, xp, o), b1 = FloatVector.fromArray(S, xp, o + L);
            int ap = at + t * MR;
            FloatVector a0 = FloatVector.broadcast(S, pw[ap]), a1 = FloatVector.broadcast(S, pw[ap + 1]);
            FloatVector a2 = FloatVector.broadcast(S, pw[ap + 2]), a3 = FloatVector.broadcast(S, pw[ap + 3]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
        }
        if (pb != null) {
            // Written out: a helper taking the eight vectors would not be inlined, and they would be boxed.
            FloatVector b0 = FloatVector.broadcast(S, pb[bAt]), b1 = FloatVector.broadcast(S, pb[bAt + 1]);
            FloatVector b2 = FloatVector.broadcast(S, pb[bAt + 2]), b3 = FloatVector.broadcast(S, pb[bAt + 3]);
            c00 = c00.add(b0);
            c01 = c01.add(b0);
            c10 = c10.add(b1);
            c11 = c11.add(b1);
            c20 = c20.add(b2);
            c21 = c21.add(b2);
            c30 = c30.add(b3);
            c31 = c31.add(b3);
        }
        c00.intoArray(wide, out);
        c01.intoArray(wide, out + L);
        c10.intoArray(wide, out + ld);
        c11.intoArray(wide, out + ld + L);
        c20.intoArray(wide, out + 2 * ld);
        c21.intoArray(wide, out + 2 * ld + L);
        c30.intoArray(wide, out + 3 * ld);
        c31.intoArray(wide, out + 3 * ld + L);
    }

    /** {@link #forwardKernel} for one vector of positions: the same sums in the same order. */
    private static void forwardTail(float[] pw, int at, int taps, float[] xp, int[] off, int i0, float[] wide, int out, int ld,
                                    float[] pb, int bAt) {
        FloatVector c0 = FloatVector.zero(S), c1 = FloatVector.zero(S), c2 = FloatVector.zero(S), c3 = FloatVector.zero(S);
        for (int t = 0; t < taps; t++) {
            FloatVector b = FloatVector.fromArray(S, xp, off[t] + i0);
            int ap = at + t * MR;
            c0 = FloatVector.broadcast(S, pw[ap]).fma(b, c0);
            c1 = FloatVector.broadcast(S, pw[ap + 1]).fma(b, c1);
            c2 = FloatVector.broadcast(S, pw[ap + 2]).fma(b, c2);
            c3 = FloatVector.broadcast(S, pw[ap + 3]).fma(b, c3);
        }
        if (pb != null) {
            c0 = c0.add(pb[bAt]);
            c1 = c1.add(pb[bAt + 1]);
            c2 = c2.add(pb[bAt + 2]);
            c3 = c3.add(pb[bAt + 3]);
        }
        c0.intoArray(wide, out);
        c1.intoArray(wide, out + ld);
        c2.intoArray(wide, out + 2 * ld);
        c3.intoArray(wide, out + 3 * ld);
    }

    /**
     * acc[(r·4 + u)·L + lane] += Σ_i dyw[row + r·ld + i]·xp[off_u + i] over i ≡ lane (mod L), for 4
     * filters r and four taps u; the lane sums are kept across images and reduced at the end. Sixteen
     * accumulators take eight loads a step (four of dy, four of x) for sixteen fused multiply-adds:
     * with 4 filters × 2 taps it would be six loads for eight, and the loads, not the multiply-adds,
     * set the pace.
     */
    private static void filterKernel(float[] dyw, int row, int ld, float[] xp, int off0, int off1, int off2, int off3,
                                     float[] acc, int at) {
        FloatVector s00 = FloatVector.fromArray(S, acc, at), s01 = FloatVector.fromArray(S, acc, at + L);
        FloatVector s02 = FloatVector.fromArray(S, acc, at + 2 * L), s03 = FloatVector.fromArray(S, acc, at + 3 * L);
        FloatVector s10 = FloatVector.fromArray(S, acc, at + 4 * L), s11 = FloatVector.fromArray(S, acc, at + 5 * L);
        FloatVector s12 = FloatVector.fromArray(S, acc, at + 6 * L), s13 = FloatVector.fromArray(S, acc, at + 7 * L);
        FloatVector s20 = FloatVector.fromArray(S, acc, at + 8 * L), s21 = FloatVector.fromArray(S, acc, at + 9 * L);
        FloatVector s22 = FloatVector.fromArray(S, acc, at + 10 * L), s23 = FloatVector.fromArray(S, acc, at + 11 * L);
        FloatVector s30 = FloatVector.fromArray(S, acc, at + 12 * L), s31 = FloatVector.fromArray(S, acc, at + 13 * L);
        FloatVector s32 = FloatVector.fromArray(S, acc, at + 14 * L), s33 = FloatVector.fromArray(S, acc, at + 15 * L);
        for (int i = 0; i < ld; i += L) {
            FloatVector x0 = FloatVector.fromArray(S, xp, off0 + i), x1 = FloatVector.fromArray(S, xp, off1 + i);
            FloatVector x2 = FloatVector.fromArray(S, xp, off2 + i), x3 = FloatVector.fromArray(S, xp, off3 + i);
            FloatVector d = FloatVector.fromArray(S, dyw, row + i);
            s00 = d.fma(x0, s00);
            s01 = d.fma(x1, s01);
            s02 = d.fma(x2, s02);
            s03 = d.fma(x3, s03);
            d = FloatVector.fromArray(S, dyw, row + ld + i);
            s10 = d.fma(x0, s10);
            s11 = d.fma(x1, s11);
            s12 = d.fma(x2, s12);
            s13 = d.fma(x3, s13);
            d = FloatVector.fromArray(S, dyw, row + 2 * ld + i);
            s20 = d.fma(x0, s20);
            s21 = d.fma(x1, s21);
            s22 = d.fma(x2, s22);
            s23 = d.fma(x3, s23);
            d = FloatVector.fromArray(S, dyw, row + 3 * ld + i);
            s30 = d.fma(x0, s30);
            s31 = d.fma(x1, s31);
            s32 = d.fma(x2, s32);
            s33 = d.fma(x3, s33);
        }
        s00.intoArray(acc, at);
        s01.intoArray(acc, at + L);
        s02.intoArray(acc, at + 2 * L);
        s03.intoArray(acc, at + 3 * L);
        s10.intoArray(acc, at + 4 * L);
        s11.intoArray(acc, at + 5 * L);
        s12.intoArray(acc, at + 6 * L);
        s13.intoArray(acc, at + 7 * L);
        s20.intoArray(acc, at + 8 * L);
        s21.intoArray(acc, at + 9 * L);
        s22.intoArray(acc, at + 10 * L);
        s23.intoArray(acc, at + 11 * L);
        s30.intoArray(acc, at + 12 * L);
        s31.intoArray(acc, at + 13 * L);
        s32.intoArray(acc, at + 14 * L);
        s33.intoArray(acc, at + 15 * L);
    }
}
