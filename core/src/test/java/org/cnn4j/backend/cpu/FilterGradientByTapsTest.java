package org.cnn4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;

import org.cnn4j.backend.ConvGeometry;
import org.junit.jupiter.api.Test;

/**
 * The im2col filter gradient shared between threads by taps ({@link CpuConvolution#splitByTaps}):
 * against a double-precision loop, bitwise the same for 1, 2 and 3 threads and with packed or
 * im2col columns, and close to the split by chunks of images. The layer has 300 filters of 103·3·3
 * taps (over the 1 MiB rule), padding, and a batch that ends inside a block of positions. Its 927
 * taps are one short of a whole number of strips for every strip width the vector kernel can have
 * (8, 16 or 32 columns: 128-, 256- and 512-bit vectors), fewer wasted columns than its 300 filters
 * leave, so the product is not transposed whatever the machine and the split by taps applies.
 */
class FilterGradientByTapsTest {
    private static final ConvGeometry G = ConvGeometry.square(103, 7, 7, 300, 3, 1, 1, 1);

    @Test
    void matchesTheDefinitionWhateverTheThreadsAndColumns() {
        assumeTrue(Sgemm.VECTOR && CpuConvolution.DIRECT, "needs the vector kernel");
        assertTrue(CpuConvolution.splitByTaps(G), "the layer is large enough to be split by taps");
        for (int nr : new int[] {8, 16, 32}) {
            assertTrue(!CpuConvolution.transposedFilterGradient(G.k(), G.c() * 9, nr), "its product is not transposed, " + nr + " columns a strip");
        }
        assertTrue(!CpuConvolution.transposedFilterGradient(G.k(), G.c() * 9), "nor on this machine's vector width");
        assertTrue(!CpuConvolution.splitByTaps(ConvGeometry.square(128, 16, 16, 128, 3, 1, 1, 1)),
                "vgg-small's 128→128 layer (0.6 MB) is not");
        int n = 5, crs = G.c() * 9, pq = G.p() * G.q();
        Random rng = new Random(11);
        float[] x = gaussian(rng, n * G.c() * G.h() * G.w()), dy = gaussian(rng, n * G.k() * pq);
        float[] dw0 = gaussian(rng, G.k() * crs), db0 = gaussian(rng, G.k());

        double[] dwRef = new double[dw0.length], dbRef = new double[G.k()];
        for (int i = 0; i < dw0.length; i++) dwRef[i] = dw0[i];
        for (int f = 0; f < G.k(); f++) dbRef[f] = db0[f];
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < G.k(); f++) {
                for (int pp = 0; pp < G.p(); pp++) {
                    for (int qq = 0; qq < G.q(); qq++) {
                        double d = dy[((i * G.k() + f) * G.p() + pp) * G.q() + qq];
                        dbRef[f] += d;
                        for (int c = 0; c < G.c(); c++) {
                            for (int r = 0; r < 3; r++) {
                                for (int s = 0; s < 3; s++) {
                                    int ih = pp - 1 + r, iw = qq - 1 + s;
                                    if (ih < 0 || ih >= G.h() || iw < 0 || iw >= G.w()) continue;
                                    dwRef[((f * G.c() + c) * 3 + r) * 3 + s] += d * x[((i * G.c() + c) * G.h() + ih) * G.w() + iw];
                                }
                            }
                        }
                    }
                }
            }
        }

        float[][] dws = new float[4][], dbs = new float[4][];
        try (Parallel one = new Parallel(1); Parallel two = new Parallel(2); Parallel three = new Parallel(3)) {
            CpuConvolution[] runs = {new CpuConvolution(one, true, true), new CpuConvolution(two, true, true),
                    new CpuConvolution(three, true, true), new CpuConvolution(two, false, true)};
            for (int v = 0; v < runs.length; v++) {
                dws[v] = dw0.clone();
                dbs[v] = db0.clone();
                runs[v].backwardFilter(dws[v], dbs[v], x, dy, n, G);
            }
            float[] dwChunks = dw0.clone(), dbChunks = db0.clone();
            new CpuConvolution(two, true, false).backwardFilter(dwChunks, dbChunks, x, dy, n, G);
            assertClose(dwRef, dwChunks, "dw split by images");
            assertClose(dbRef, dbChunks, "db split by images");
        }
        assertClose(dwRef, dws[0], "dw");
        assertClose(dbRef, dbs[0], "db");
        for (int v = 1; v < dws.length; v++) {
            assertArrayEquals(dws[0], dws[v], "dw, run " + v + " against 1 thread");
            assertArrayEquals(dbs[0], dbs[v], "db, run " + v + " against 1 thread");
        }
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        double scale = 0;
        for (double v : expected) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < expected.length; i++) {
            // float sums of 5·49 products of unit Gaussians, against double: well inside 1e-5 of the largest
            assertEquals(expected[i], actual[i], 1e-5 * scale, what + " [" + i + "]");
        }
    }

    private static float[] gaussian(Random rng, int size) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) rng.nextGaussian();
        return a;
    }
}
