package org.cnn4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.cnn4j.backend.ConvGeometry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The direct convolution (few taps, stride 1) against a double-precision loop over the definition,
 * forward, data, filter and bias gradients, on random data with the outputs poisoned by NaN first. Tolerance
 * 1e-5 of the data's scale: each output is a float sum of at most 32·(images·positions) products,
 * rounded once per fused multiply-add. Also: a bias is added to the finished sums (bitwise what a
 * separate pass gives), the filter gradient adds to what dw held, and neither depends on the
 * thread count (bitwise).
 */
class DirectConvolutionTest {
    static Stream<Arguments> geometries() {
        return Stream.of(
                Arguments.of(new ConvGeometry(1, 28, 28, 32, 3, 3, 0, 0, 1, 1, 1, 1), 5),   // fmnist-cnn conv1
                Arguments.of(new ConvGeometry(3, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1), 3),      // padded, k not a multiple of 4
                Arguments.of(new ConvGeometry(1, 12, 12, 6, 5, 5, 2, 2, 1, 1, 1, 1), 37),   // lenet5 c1 shape, odd taps, 37 images
                Arguments.of(new ConvGeometry(2, 11, 13, 5, 3, 2, 2, 1, 1, 1, 2, 3), 4),    // dilation, rectangular, uneven padding
                Arguments.of(new ConvGeometry(7, 5, 6, 3, 1, 1, 0, 0, 1, 1, 1, 1), 2),      // 1×1 filters
                Arguments.of(new ConvGeometry(1, 3, 3, 1, 3, 3, 0, 0, 1, 1, 1, 1), 1),      // a single output
                Arguments.of(new ConvGeometry(32, 13, 13, 64, 3, 3, 0, 0, 1, 1, 1, 1), 2),  // fmnist-cnn conv2: 288 taps
                Arguments.of(new ConvGeometry(6, 14, 14, 16, 5, 5, 0, 0, 1, 1, 1, 1), 3),   // lenet5 C3: 150 taps
                Arguments.of(new ConvGeometry(8, 6, 6, 12, 3, 3, 1, 1, 1, 1, 1, 1), 2));    // padded, many taps; rows of 3 vectors: a tail
    }

    @Test
    void servesTheShapesWhereItWasMeasuredFaster() {
        ConvGeometry fmnistConv1 = new ConvGeometry(1, 28, 28, 32, 3, 3, 0, 0, 1, 1, 1, 1);
        ConvGeometry fmnistConv2 = new ConvGeometry(32, 13, 13, 64, 3, 3, 0, 0, 1, 1, 1, 1);
        ConvGeometry vgg32 = new ConvGeometry(64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1);
        ConvGeometry vgg16 = new ConvGeometry(64, 16, 16, 128, 3, 3, 1, 1, 1, 1, 1, 1);
        ConvGeometry lenetC3 = new ConvGeometry(6, 14, 14, 16, 5, 5, 0, 0, 1, 1, 1, 1);
        ConvGeometry lenetC5 = new ConvGeometry(16, 5, 5, 120, 5, 5, 0, 0, 1, 1, 1, 1);
        ConvGeometry strided = new ConvGeometry(1, 28, 28, 8, 3, 3, 0, 0, 2, 2, 1, 1);
        for (ConvGeometry g : List.of(fmnistConv1, fmnistConv2, vgg32, vgg16, lenetC3)) assertTrue(DirectConvolution.forwardPays(g), g.toString());
        for (ConvGeometry g : List.of(lenetC5, strided)) assertFalse(DirectConvolution.forwardPays(g), g.toString());
        for (ConvGeometry g : List.of(fmnistConv1, vgg32, lenetC3)) assertTrue(DirectConvolution.filterPays(g), g.toString());
        for (ConvGeometry g : List.of(fmnistConv2, vgg16, lenetC5, strided)) assertFalse(DirectConvolution.filterPays(g), g.toString());
        assertEquals(new ConvGeometry(64, 11, 11, 32, 3, 3, 2, 2, 1, 1, 1, 1), DirectConvolution.dataGeometry(fmnistConv2));
        assertTrue(DirectConvolution.dataPays(vgg32));
        assertFalse(DirectConvolution.dataPays(new ConvGeometry(4, 9, 9, 4, 3, 3, 3, 3, 1, 1, 1, 1)), "padding beyond the filter's reach");
    }

    @ParameterizedTest
    @MethodSource("geometries")
    void forwardAndFilterGradientMatchTheDefinition(ConvGeometry g, int n) {
        assumeTrue(Sgemm.VECTOR, "the direct path needs jdk.incubator.vector");
        Random rng = new Random(g.hashCode() + n);
        float[] x = gaussian(rng, n * g.c() * g.h() * g.w()), w = gaussian(rng, g.k() * g.c() * g.r() * g.s());
        int ySize = n * g.k() * g.p() * g.q();
        float[] dy = gaussian(rng, ySize), dw0 = gaussian(rng, w.length), db0 = gaussian(rng, g.k());
        double[] yRef = new double[ySize], dwRef = new double[w.length], dbRef = new double[g.k()];
        for (int i = 0; i < w.length; i++) dwRef[i] = dw0[i];
        for (int f = 0; f < g.k(); f++) dbRef[f] = db0[f];
        double[] dxRef = new double[x.length];
        reference(g, n, x, w, dy, yRef, dwRef, dxRef);
        for (int i = 0; i < ySize; i++) dbRef[i / (g.p() * g.q()) % g.k()] += dy[i];

        float[] bias = gaussian(rng, g.k());
        float[] y = new float[ySize], yb = new float[ySize], dw1 = dw0.clone(), dw2 = dw0.clone(), dw3 = dw0.clone();
        float[] db1 = db0.clone(), db3 = db0.clone(), dx = new float[x.length];
        Arrays.fill(dx, Float.NaN);
        Arrays.fill(y, Float.NaN);
        Arrays.fill(yb, Float.NaN);
        try (Parallel one = new Parallel(1); Parallel three = new Parallel(3)) {
            new DirectConvolution(three).forward(y, x, w, null, false, n, g);
            new DirectConvolution(one).forward(yb, x, w, bias, false, n, g);
            new DirectConvolution(one).backwardFilter(dw1, db1, x, dy, n, g);
            new DirectConvolution(three).backwardFilter(dw2, null, x, dy, n, g);
            new DirectConvolution(three).backwardFilter(dw3, db3, x, dy, n, g);
            if (g.padH() <= g.dilationH() * (g.r() - 1) && g.padW() <= g.dilationW() * (g.s() - 1)) {
                new DirectConvolution(three).backwardData(dx, dy, w, n, g);
                assertClose(dxRef, dx, "dx for " + g);
            }
        }
        assertClose(yRef, y, "y for " + g);
        int pq = g.p() * g.q();
        for (int i = 0; i < ySize; i++) {
            // the bias goes on the finished sum: bitwise what a separate addBias pass gives
            assertEquals(y[i] + bias[i / pq % g.k()], yb[i], "y with bias [" + i + "] for " + g);
        }
        assertClose(dwRef, dw1, "dw for " + g);
        assertClose(dbRef, db1, "db for " + g);
        assertArrayEquals(dw1, dw2, "dw with 1 and 3 threads for " + g);
        assertArrayEquals(dw1, dw3, "dw with and without db for " + g);
        assertArrayEquals(db1, db3, "db with 1 and 3 threads for " + g);
    }

    /** y = x ⋆ w (cross-correlation, as cuDNN and PyTorch); dw += Σ over images and positions of dy·x, in double. */
    private static void reference(ConvGeometry g, int n, float[] x, float[] w, float[] dy, double[] y, double[] dw, double[] dx) {
        int p = g.p(), q = g.q();
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < g.k(); f++) {
                for (int pp = 0; pp < p; pp++) {
                    for (int qq = 0; qq < q; qq++) {
                        int out = ((i * g.k() + f) * p + pp) * q + qq;
                        double sum = 0;
                        for (int c = 0; c < g.c(); c++) {
                            for (int r = 0; r < g.r(); r++) {
                                for (int s = 0; s < g.s(); s++) {
                                    int ih = pp - g.padH() + r * g.dilationH(), iw = qq - g.padW() + s * g.dilationW();
                                    if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                                    double xv = x[((i * g.c() + c) * g.h() + ih) * g.w() + iw];
                                    int tap = ((f * g.c() + c) * g.r() + r) * g.s() + s;
                                    sum += w[tap] * xv;
                                    dw[tap] += dy[out] * xv;
                                    dx[((i * g.c() + c) * g.h() + ih) * g.w() + iw] += w[tap] * (double) dy[out];
                                }
                            }
                        }
                        y[out] = sum;
                    }
                }
            }
        }
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        double scale = 0;
        for (double v : expected) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            assertTrue(err <= 1e-5 * Math.max(1, scale), what + " [" + i + "]: " + actual[i] + " against " + expected[i]);
        }
    }

    private static float[] gaussian(Random rng, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) v[i] = (float) rng.nextGaussian();
        return v;
    }
}
