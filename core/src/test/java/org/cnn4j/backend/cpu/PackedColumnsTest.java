package org.cnn4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Random;

import org.cnn4j.backend.ConvGeometry;
import org.junit.jupiter.api.Test;

/**
 * The im2col filter gradient with its columns gathered straight into the kernel's packed panels
 * against im2col then packing: the same numbers in the same order, so bit for bit the same
 * filter and bias gradients, with padding, stride, dilation, a tap count that is not a whole
 * number of strips, and batches that end inside a block of positions.
 */
class PackedColumnsTest {
    @Test
    void gatheredPanelsGiveBitwiseTheImToColResult() {
        assumeTrue(Sgemm.VECTOR && CpuConvolution.DIRECT, "needs the vector kernel");
        // Each one takes the im2col route untransposed (more taps than 32, more filters than 16, and
        // k wasting at least as many vector columns as c·r·s), where the packed columns serve.
        List<ConvGeometry> shapes = List.of(
                ConvGeometry.square(32, 13, 13, 64, 3, 0, 1, 1),
                ConvGeometry.square(16, 8, 8, 40, 3, 1, 1, 1),
                new ConvGeometry(7, 11, 9, 40, 3, 2, 2, 1, 2, 1, 1, 2),
                ConvGeometry.square(7, 10, 10, 40, 3, 1, 2, 1));
        try (Parallel two = new Parallel(2)) {
            CpuConvolution packed = new CpuConvolution(two, true, true), plain = new CpuConvolution(two, false, true);
            for (ConvGeometry g : shapes) {
                Random rng = new Random(g.hashCode());
                int n = 7;
                float[] x = new float[n * g.c() * g.h() * g.w()], dy = new float[n * g.k() * g.p() * g.q()];
                for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
                for (int i = 0; i < dy.length; i++) dy[i] = (float) rng.nextGaussian();
                int wSize = g.k() * g.c() * g.r() * g.s();
                float[] dw1 = new float[wSize], dw2 = new float[wSize], db1 = new float[g.k()], db2 = new float[g.k()];
                for (int i = 0; i < wSize; i++) dw1[i] = dw2[i] = (float) rng.nextGaussian(); // accumulate onto these
                packed.backwardFilter(dw1, db1, x, dy, n, g);
                plain.backwardFilter(dw2, db2, x, dy, n, g);
                assertArrayEquals(dw2, dw1, "filter gradient " + g);
                assertArrayEquals(db2, db1, "bias gradient " + g);
            }
        }
    }
}
