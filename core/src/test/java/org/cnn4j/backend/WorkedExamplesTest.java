package org.cnn4j.backend;

import static org.cnn4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.stream.Stream;

import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Worked examples (a full convolution, max- and average-pool upsampling, a small convolution's gradients), on every backend, as fixed test vectors. */
class WorkedExamplesTest {

    static Stream<Backend> backends() {
        return Backends.all();
    }

    private static void assertValues(String what, Backend b, double[] expected, Tensor actual) {
        assertClose(what + " on " + b.name(), expected, actual.toDoubleArray(), Backends.tolerance(b), 0);
    }

    /**
     * Bouvrie's notes (§3.1): conv2(ones(3,3), [1 2 3; 4 5 6; 7 8 9], 'full'). The data gradient of a valid 3×3
     * convolution is the full convolution of δ with the filter (the correlation with rot180(w)), so
     * δ = ones(3,3) and w = [1..9] on a 5×5 input must give MATLAB's matrix.
     */
    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("backends")
    void fullConvolutionOfBouvriesNotes(Backend b) {
        ConvGeometry g = ConvGeometry.square(1, 5, 5, 1, 3, 0, 1, 1);
        Tensor dy = b.upload(Shape.of(1, 1, 3, 3), new double[] {1, 1, 1, 1, 1, 1, 1, 1, 1});
        Tensor w = b.upload(Shape.of(1, 1, 3, 3), new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        Tensor dx = b.allocate(Shape.of(1, 1, 5, 5));
        b.convBackwardData(dx, dy, w, g);
        assertValues("conv2(ones(3), magic, 'full')", b, new double[] {
                1, 3, 6, 5, 3,
                5, 12, 21, 16, 9,
                12, 27, 45, 33, 18,
                11, 24, 39, 28, 15,
                7, 15, 24, 17, 9}, dx);
    }

    /** The classic max-pool "upsample": 2×2 max pooling with maxima at top-left, bottom-right, top-right, bottom-left; δ = [2 8; 4 6]. */
    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("backends")
    void maxAndAveragePoolUpsample(Backend b) {
        PoolGeometry g = PoolGeometry.square(1, 4, 4, 2, 2);
        Tensor x = b.upload(Shape.of(1, 1, 4, 4), new double[] {
                9, 1, 2, 3,
                4, 5, 6, 9,
                7, 9, 1, 3,
                2, 3, 9, 5});
        Tensor dy = b.upload(Shape.of(1, 1, 2, 2), new double[] {2, 8, 4, 6});
        Tensor y = b.allocate(dy.shape()), mask = b.allocateInts(dy.shape()), dx = b.allocate(x.shape());
        b.maxPoolForward(y, mask, x, g);
        assertValues("max pool", b, new double[] {9, 9, 9, 9}, y);
        assertArrayEquals(new int[] {0, 7, 9, 14}, mask.toIntArray(), "mask: TL, BR, TR, BL");
        b.maxPoolBackward(dx, dy, mask, g);
        assertValues("max upsample", b, new double[] {
                2, 0, 0, 0,
                0, 0, 0, 8,
                0, 4, 0, 0,
                0, 0, 6, 0}, dx);

        b.avgPoolBackward(dx, dy, g);
        assertValues("average upsample", b, new double[] {
                .5, .5, 2, 2,
                .5, .5, 2, 2,
                1, 1, 1.5, 1.5,
                1, 1, 1.5, 1.5}, dx);
    }

    /** Ties go to the first maximum in row-major window order, on every backend. */
    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("backends")
    void maxPoolTiesGoToTheFirstMaximum(Backend b) {
        PoolGeometry g = PoolGeometry.square(1, 2, 4, 2, 2);
        Tensor x = b.upload(Shape.of(1, 1, 2, 4), new double[] {3, 3, 0, -1, 3, 3, -1, -1});
        Tensor y = b.allocate(Shape.of(1, 1, 1, 2)), mask = b.allocateInts(y.shape());
        b.maxPoolForward(y, mask, x, g);
        assertArrayEquals(new int[] {0, 2}, mask.toIntArray());
    }

    /** Signed zeros tie (−0 = +0): the first still wins. A NaN in a window comes through to the output, as in PyTorch. */
    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("backends")
    void maxPoolSignedZerosTieAndNaNPropagates(Backend b) {
        PoolGeometry g = PoolGeometry.square(1, 2, 4, 2, 2);
        Tensor x = b.upload(Shape.of(1, 1, 2, 4), new double[] {-0.0, -1, -2, Double.NaN, -3, 0.0, -1, 5});
        Tensor y = b.allocate(Shape.of(1, 1, 1, 2)), mask = b.allocateInts(y.shape());
        b.maxPoolForward(y, mask, x, g);
        assertEquals(0, mask.toIntArray()[0], "−0 at index 0 ties with +0 at index 5");
        assertTrue(Double.isNaN(y.toDoubleArray()[1]), "NaN propagates");
    }

    /**
     * A textbook exercise: input (1, 2, 3, 3) holding 0..8 and 1..9, convolution 2→3 maps with 2×2 filters,
     * stride 1, no padding: output (1, 3, 2, 2), data gradient (1, 2, 3, 3). With filter k all equal
     * to k+1, y_k = (k+1)·[20 28; 44 52] (window sums of both channels, by hand), and the exercise's
     * δ = y − (y + 1) = −1 gives dx = −(1+2+3)·(the number of windows covering each pixel).
     */
    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("backends")
    void convolutionOfTheExerciseByHand(Backend b) {
        ConvGeometry g = ConvGeometry.square(2, 3, 3, 3, 2, 0, 1, 1);
        double[] input = new double[18];
        for (int i = 0; i < 9; i++) {
            input[i] = i;
            input[9 + i] = i + 1;
        }
        double[] filters = new double[3 * 2 * 2 * 2];
        for (int i = 0; i < filters.length; i++) filters[i] = i / 8 + 1;
        Tensor x = b.upload(Shape.of(1, 2, 3, 3), input), w = b.upload(Shape.of(3, 2, 2, 2), filters);
        Tensor y = b.allocate(Shape.of(1, 3, 2, 2));
        b.convForward(y, x, w, g);
        assertValues("output", b, new double[] {20, 28, 44, 52, 40, 56, 88, 104, 60, 84, 132, 156}, y);

        Tensor dy = b.upload(y.shape(), new double[] {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1});
        Tensor dx = b.allocate(x.shape());
        b.convBackwardData(dx, dy, w, g);
        double[] covering = {1, 2, 1, 2, 4, 2, 1, 2, 1};
        double[] expected = new double[18];
        for (int i = 0; i < 18; i++) expected[i] = -6 * covering[i % 9];
        assertValues("data gradient", b, expected, dx);
    }

    /**
     * The same exercise with unsymmetric filters and a random δ: the data gradient follows from the
     * definition ∂E/∂x(c,i,j) = Σ_{k,r,s} δ(k, i−r, j−s)·w(k,c,r,s) — the rotated filter. A common
     * numpy multiplies by the unflipped filter; that gives a different answer here.
     */
    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("backends")
    void theDataGradientUsesTheRotatedFilter(Backend b) {
        Random rng = new Random(2);
        ConvGeometry g = ConvGeometry.square(2, 3, 3, 3, 2, 0, 1, 1);
        double[] w = Data.uniform(rng, 24), delta = Data.uniform(rng, 12);
        double[] rotated = new double[18], unflipped = new double[18];
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    for (int k = 0; k < 3; k++)
                        for (int r = 0; r < 2; r++)
                            for (int s = 0; s < 2; s++) {
                                int p = i - r, q = j - s;
                                if (p >= 0 && p < 2 && q >= 0 && q < 2) {
                                    rotated[c * 9 + i * 3 + j] += delta[k * 4 + p * 2 + q] * w[((k * 2 + c) * 2 + r) * 2 + s];
                                }
                                // The common mistake: pad δ and correlate with w itself, not rot180(w).
                                int pu = i + r - 1, qu = j + s - 1;
                                if (pu >= 0 && pu < 2 && qu >= 0 && qu < 2) {
                                    unflipped[c * 9 + i * 3 + j] += delta[k * 4 + pu * 2 + qu] * w[((k * 2 + c) * 2 + r) * 2 + s];
                                }
                            }
        Tensor dx = b.allocate(Shape.of(1, 2, 3, 3));
        b.convBackwardData(dx, b.upload(Shape.of(1, 3, 2, 2), delta), b.upload(Shape.of(3, 2, 2, 2), w), g);
        assertValues("data gradient", b, rotated, dx);
        double differs = 0;
        for (int i = 0; i < 18; i++) differs = Math.max(differs, Math.abs(rotated[i] - unflipped[i]));
        assertTrue(differs > 0.1, "the unflipped filter gives another answer");
    }

    /**
     * The appendix of Bouvrie's notes: x (3×3) ⋆ k (2×2) = z (2×2). ∇k = x ⋆ δ (valid), and the nine
     * expressions for ∇x, written out here as the notes give them. (The notes' ∇k11 line reads
     * δ12·x22 where x12 is meant; the matrix form below it, x ⋆ δ, is right.)
     */
    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("backends")
    void appendixOfBouvriesNotes(Backend b) {
        double x11 = 0.5, x12 = -1, x13 = 2, x21 = 1.5, x22 = 0.25, x23 = -0.75, x31 = 3, x32 = -2, x33 = 1;
        double k11 = 1, k12 = -2, k21 = 0.5, k22 = 3;
        double d11 = 0.1, d12 = -0.2, d21 = 0.3, d22 = 0.4;
        ConvGeometry g = ConvGeometry.square(1, 3, 3, 1, 2, 0, 1, 1);
        Tensor x = b.upload(Shape.of(1, 1, 3, 3), new double[] {x11, x12, x13, x21, x22, x23, x31, x32, x33});
        Tensor k = b.upload(Shape.of(1, 1, 2, 2), new double[] {k11, k12, k21, k22});
        Tensor delta = b.upload(Shape.of(1, 1, 2, 2), new double[] {d11, d12, d21, d22});

        Tensor z = b.allocate(delta.shape());
        b.convForward(z, x, k, g);
        assertValues("z", b, new double[] {
                x11 * k11 + x12 * k12 + x21 * k21 + x22 * k22,
                x12 * k11 + x13 * k12 + x22 * k21 + x23 * k22,
                x21 * k11 + x22 * k12 + x31 * k21 + x32 * k22,
                x22 * k11 + x23 * k12 + x32 * k21 + x33 * k22}, z);

        Tensor dk = b.allocate(k.shape());
        b.convBackwardFilter(dk, x, delta, g);
        assertValues("∇k = x ⋆ δ", b, new double[] {
                d11 * x11 + d12 * x12 + d21 * x21 + d22 * x22,
                d11 * x12 + d12 * x13 + d21 * x22 + d22 * x23,
                d11 * x21 + d12 * x22 + d21 * x31 + d22 * x32,
                d11 * x22 + d12 * x23 + d21 * x32 + d22 * x33}, dk);

        Tensor dx = b.allocate(x.shape());
        b.convBackwardData(dx, delta, k, g);
        assertValues("∇x = pad(δ) ⋆ rot180(k)", b, new double[] {
                d11 * k11,
                d11 * k12 + d12 * k11,
                d12 * k12,
                d11 * k21 + d21 * k11,
                d11 * k22 + d12 * k21 + d21 * k12 + d22 * k11,
                d12 * k22 + d22 * k12,
                d21 * k21,
                d21 * k22 + d22 * k21,
                d22 * k22}, dx);
        assertEquals(9, dx.size());
    }
}
