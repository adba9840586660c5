package org.cnn4j.backend.cuda;

import static org.cnn4j.testing.Close.assertClose;
import static org.cnn4j.testing.Close.maxAbs;
import static org.cnn4j.testing.Close.toDouble;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Backend;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Adam;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Data;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU suite: every CUDA backend operation against the CPU backend on random data of several
 * shapes, each output poisoned with NaN first so that an unwritten element shows. It runs twice:
 * on a real GPU (CudaBackendTest, skipped with the reason where none is usable; run it on a GPU
 * node with bin/cnn4j-selftest) and on an emulated one (EmulatedCudaBackendTest: the same backend
 * code and PTX kernels, the kernels run by an interpreter, on any machine).
 *
 * <p>Tolerances. Kernels that round as the CPU does (pooling and its gathers, subsampling's
 * forward and data gradient, activation gradients, dropout, SGD, Adam, argmax) must agree
 * bitwise. cuBLAS and cuDNN's other operations in strict float32 sum in another order: 1e-5 of the
 * data's scale. A strict float32 convolution may also run as an FFT or a Winograd transform, which
 * cuDNN chooses when it is the fastest: 3e-5 of the scale (Winograd F(6×6, 3×3) in float32 comes to
 * 1.2e-5 on these shapes: scripts/convolution-error.py), still a tenth of TF32's error. TF32
 * convolutions round their operands to 10 mantissa bits: 3e-4 of the scale for a sum of products,
 * and up to 2.6e-2 where cuDNN's WINOGRAD_NONFUSED runs its products on tensor cores and its output
 * transform amplifies their rounding (scripts/convolution-error.py --tf32): 5e-2. The strict run
 * holds the same calls to 3e-5; training under TF32, whose rounding each step compounds, is held to
 * the CPU's first loss and to learning, and its graphed steps to the eager steps of the same backend.
 * Forward sigmoid/tanh and the softmax cross-entropy use ex2/lg2.approx against the
 * CPU's (the Vector API's float tanh and exp, within a few ulps; Math.tanh in double without
 * that module): 1e-5.
 */
abstract class CudaBackendSuite {
    static CudaBackend tf32, strict;
    private static String why;
    private static final CpuBackend CPU = new CpuBackend(2);
    private static final double STRICT = 1e-5, STRICT_CONVOLUTION = 3e-5, TF32 = 5e-2;

    /** The two backends the tests of the class being run use (strict float32 and TF32), or why there are none. */
    static void use(CudaBackend strictFloat32, CudaBackend withTf32, String reason) {
        strict = strictFloat32;
        tf32 = withTf32;
        why = reason;
    }

    @AfterAll
    static void close() {
        if (tf32 != null) tf32.close();
        if (strict != null) strict.close();
        use(null, null, "closed");
    }

    @BeforeEach
    void needGpu() {
        assumeTrue(strict != null && tf32 != null, "no usable GPU: " + why);
    }

    /** The same values on the GPU and the CPU. */
    private record Pair(Tensor gpu, Tensor cpu) {
        static Pair of(Backend gpu, Shape shape, double[] values) {
            return new Pair(gpu.upload(shape, values), CPU.upload(shape, values));
        }

        static Pair random(Backend gpu, Shape shape, Random rng) {
            return of(gpu, shape, Data.uniform(rng, shape.size()));
        }

        static Pair ints(Backend gpu, Shape shape, int[] values) {
            return new Pair(gpu.uploadInts(shape, values), CPU.uploadInts(shape, values));
        }

        static Pair poisoned(Backend gpu, Shape shape) {
            Pair p = new Pair(gpu.allocate(shape), CPU.allocate(shape));
            gpu.fill(p.gpu, Float.NaN);
            CPU.fill(p.cpu, Float.NaN);
            return p;
        }

        void assertNear(String what, double tolerance) {
            double[] expected = cpu.toDoubleArray();
            assertClose(what, expected, gpu.toDoubleArray(), tolerance * Math.max(1, maxAbs(expected)), tolerance);
        }

        /** NaN where the CPU has NaN, the same infinities, and the finite values within the tolerance of their scale. */
        void assertSpecialsThenNear(String what, double tolerance) {
            double[] expected = cpu.toDoubleArray(), actual = gpu.toDoubleArray();
            double scale = 1;
            for (int i = 0; i < expected.length; i++) {
                double e = expected[i], a = actual[i];
                if (Double.isNaN(e) || Double.isInfinite(e)) {
                    assertEquals(e, a, what + " [" + i + "]: the CPU has " + e);
                    expected[i] = actual[i] = 0; // equal: out of the comparison of finite values
                } else {
                    assertTrue(Double.isFinite(a), what + " [" + i + "]: the CPU has " + e + ", the GPU " + a);
                    scale = Math.max(scale, Math.abs(e));
                }
            }
            assertClose(what, expected, actual, tolerance * scale, tolerance);
        }

        void assertBitwise(String what) {
            if (cpu.dtype() == org.cnn4j.tensor.DType.INT32) {
                assertArrayEquals(cpu.toIntArray(), gpu.toIntArray(), what);
            } else {
                assertArrayEquals(cpu.toFloatArray(), gpu.toFloatArray(), what);
            }
        }
    }

    static Stream<ConvGeometry> convolutions() {
        return Stream.of(
                ConvGeometry.square(1, 28, 28, 32, 3, 0, 1, 1),
                ConvGeometry.square(32, 13, 13, 64, 3, 0, 1, 1),
                ConvGeometry.square(3, 32, 32, 64, 3, 1, 1, 1),
                ConvGeometry.square(4, 11, 10, 6, 3, 1, 2, 1),
                ConvGeometry.square(3, 12, 12, 4, 5, 2, 3, 1),
                new ConvGeometry(2, 10, 13, 3, 2, 4, 1, 2, 1, 2, 1, 1),
                new ConvGeometry(3, 14, 12, 4, 3, 2, 2, 1, 1, 1, 2, 3),
                ConvGeometry.square(16, 7, 7, 8, 1, 0, 1, 1));
    }

    @ParameterizedTest
    @MethodSource("convolutions")
    void convolutionsAgreeInStrictFloat32AndInTf32(ConvGeometry g) {
        for (CudaBackend gpu : List.of(strict, tf32)) {
            double tol = gpu == strict ? STRICT_CONVOLUTION : TF32;
            Random rng = new Random(g.hashCode());
            int n = 5;
            Pair x = Pair.random(gpu, Shape.of(n, g.c(), g.h(), g.w()), rng), w = Pair.random(gpu, Shape.of(g.k(), g.c(), g.r(), g.s()), rng);
            Pair b = Pair.random(gpu, Shape.of(g.k()), rng), dy = Pair.random(gpu, Shape.of(n, g.k(), g.p(), g.q()), rng);
            Pair y = Pair.poisoned(gpu, dy.cpu.shape());
            gpu.convForward(y.gpu, x.gpu, w.gpu, g);
            CPU.convForward(y.cpu, x.cpu, w.cpu, g);
            gpu.addBias(y.gpu, b.gpu);
            CPU.addBias(y.cpu, b.cpu);
            y.assertNear("conv forward + bias " + g + " on " + gpu.name() + " by " + gpu.convolutionAlgorithm(g, n, Dnn.Direction.FORWARD), tol);
            for (Activation f : List.of(Activation.RELU, Activation.TANH)) { // ReLU: one cuDNN call; the others: conv, then the kernel
                Pair fused = Pair.poisoned(gpu, dy.cpu.shape());
                gpu.convForward(fused.gpu, x.gpu, w.gpu, b.gpu, f, g);
                CPU.convForward(fused.cpu, x.cpu, w.cpu, b.cpu, f, g);
                fused.assertNear("conv + bias + " + f + " " + g + " on " + gpu.name() + " by " + gpu.convolutionAlgorithm(g, n, Dnn.Direction.FORWARD), tol);
            }
            Pair dx = Pair.poisoned(gpu, x.cpu.shape());
            gpu.convBackwardData(dx.gpu, dy.gpu, w.gpu, g);
            CPU.convBackwardData(dx.cpu, dy.cpu, w.cpu, g);
            dx.assertNear("conv backward-data " + g + " on " + gpu.name() + " by " + gpu.convolutionAlgorithm(g, n, Dnn.Direction.BACKWARD_DATA), tol);
            Pair dw = Pair.random(gpu, w.cpu.shape(), rng), db = Pair.random(gpu, b.cpu.shape(), rng); // accumulate onto these
            gpu.convBackwardFilter(dw.gpu, x.gpu, dy.gpu, g);
            CPU.convBackwardFilter(dw.cpu, x.cpu, dy.cpu, g);
            gpu.biasBackward(db.gpu, dy.gpu);
            CPU.biasBackward(db.cpu, dy.cpu);
            dw.assertNear("conv backward-filter " + g + " on " + gpu.name() + " by " + gpu.convolutionAlgorithm(g, n, Dnn.Direction.BACKWARD_FILTER), tol);
            db.assertNear("bias backward " + g, STRICT);
        }
    }

    static Stream<PoolGeometry> poolings() {
        return Stream.of(PoolGeometry.square(32, 26, 26, 2, 2), PoolGeometry.square(3, 9, 9, 3, 2), PoolGeometry.square(2, 7, 8, 2, 2),
                new PoolGeometry(4, 11, 9, 3, 2, 2, 1, 1, 1), new PoolGeometry(2, 6, 6, 2, 2, 1, 1, 0, 0), PoolGeometry.square(6, 28, 28, 2, 2),
                // windows apart (stride 3 > window 2), and unequal sides with rows and columns left over
                PoolGeometry.square(3, 10, 11, 2, 3), new PoolGeometry(2, 9, 10, 3, 2, 3, 2, 0, 0),
                // ceil mode: the last windows reach past the input (apart, overlapping, with padding)
                new PoolGeometry(3, 7, 8, 2, 2, 2, 2, 0, 0, true), new PoolGeometry(2, 6, 7, 3, 2, 3, 3, 0, 0, true),
                new PoolGeometry(2, 10, 9, 3, 3, 2, 2, 1, 1, true),
                // ceil mode: one window larger than the padded input, and one larger than the input, apart
                new PoolGeometry(2, 3, 1, 4, 4, 2, 2, 0, 1, true), new PoolGeometry(2, 1, 3, 2, 4, 2, 4, 0, 0, true),
                // padding that differs between the sides (ONNX's pads)
                new PoolGeometry(2, 7, 8, 2, 3, 1, 2, 0, 1, 1, 0, false), new PoolGeometry(3, 6, 7, 3, 2, 2, 1, 1, 0, 0, 1, false),
                // taps apart (max pooling only: the average and subsampling passes are skipped for these)
                new PoolGeometry(2, 9, 10, 3, 2, 1, 2, 0, 0, 0, 0, 2, 3, false), new PoolGeometry(3, 11, 9, 3, 3, 2, 2, 1, 1, 1, 1, 2, 2, true));
    }

    @ParameterizedTest
    @MethodSource("poolings")
    void poolingAndSubsamplingAgreeBitwise(PoolGeometry g) {
        Random rng = new Random(g.hashCode());
        int n = 3;
        Shape in = Shape.of(n, g.c(), g.h(), g.w()), out = Shape.of(n, g.c(), g.p(), g.q());
        Pair x = Pair.random(strict, in, rng), dy = Pair.random(strict, out, rng);
        Pair y = Pair.poisoned(strict, out), mask = new Pair(strict.allocateInts(out), CPU.allocateInts(out));
        strict.maxPoolForward(y.gpu, mask.gpu, x.gpu, g);
        CPU.maxPoolForward(y.cpu, mask.cpu, x.cpu, g);
        y.assertBitwise("max pool " + g);
        mask.assertBitwise("max pool mask " + g);
        boolean adjacent = g.undilated(); // taps apart are max pooling's only
        Pair beta = Pair.random(strict, Shape.of(g.c()), rng), b = Pair.random(strict, Shape.of(g.c()), rng);
        if (adjacent) {
            Pair avg = Pair.poisoned(strict, out);
            strict.avgPoolForward(avg.gpu, x.gpu, g);
            CPU.avgPoolForward(avg.cpu, x.cpu, g);
            avg.assertBitwise("avg pool " + g);
            Pair sub = Pair.poisoned(strict, out);
            strict.subsampleForward(sub.gpu, x.gpu, beta.gpu, b.gpu, g);
            CPU.subsampleForward(sub.cpu, x.cpu, beta.cpu, b.cpu, g);
            sub.assertBitwise("subsample " + g);
        }

        // Windows that do not overlap go to the cell kernels; both kinds of kernel are checked on them.
        for (boolean cells : CudaBackend.disjoint(g) ? new boolean[] {true, false} : new boolean[] {true}) {
            String kernel = CudaBackend.disjoint(g) ? (cells ? " (by cells)" : " (by gathering)") : "";
            strict.usePoolCells(cells);
            try {
                Pair dx = Pair.poisoned(strict, in);
                strict.maxPoolBackward(dx.gpu, dy.gpu, mask.gpu, g);
                CPU.maxPoolBackward(dx.cpu, dy.cpu, mask.cpu, g);
                dx.assertBitwise("max pool backward " + g + kernel);
                Pair dxRelu = Pair.poisoned(strict, in);
                strict.maxPoolBackward(dxRelu.gpu, dy.gpu, mask.gpu, x.gpu, g);
                CPU.maxPoolBackward(dxRelu.cpu, dy.cpu, mask.cpu, x.cpu, g);
                dxRelu.assertBitwise("max pool backward with the ReLU's before it " + g + kernel);
                if (!adjacent) continue;
                Pair dxAvg = Pair.poisoned(strict, in);
                strict.avgPoolBackward(dxAvg.gpu, dy.gpu, g);
                CPU.avgPoolBackward(dxAvg.cpu, dy.cpu, g);
                dxAvg.assertBitwise("avg pool backward " + g + kernel);
                Pair dxSub = Pair.poisoned(strict, in), dbeta = Pair.random(strict, Shape.of(g.c()), rng), db = Pair.random(strict, Shape.of(g.c()), rng);
                strict.subsampleBackward(dxSub.gpu, dbeta.gpu, db.gpu, dy.gpu, x.gpu, beta.gpu, g);
                CPU.subsampleBackward(dxSub.cpu, dbeta.cpu, db.cpu, dy.cpu, x.cpu, beta.cpu, g);
                dxSub.assertBitwise("subsample backward data " + g + kernel);
                dbeta.assertNear("subsample dbeta " + g, STRICT);
                db.assertNear("subsample db " + g, STRICT);
            } finally {
                strict.usePoolCells(true);
            }
        }
    }

    /**
     * A convolution's bias gradient summed by the backward pass that writes its dy (a max pooling's
     * that took the ReLU's, an activation's), given db explicitly: from the per-plane sums of the
     * warp-per-plane kernels, and, with those kernels off, from a pass over dx; then the filter
     * gradient without db. All against the CPU, which sums db in the filter gradient's pass.
     */
    @Test
    void biasGradientsSummedWithTheActivationAgree() {
        assertTrue(strict.biasGradientWithActivation(), "the GPU sums bias gradients as dy is written");
        ConvGeometry conv = ConvGeometry.square(3, 12, 12, 5, 3, 0, 1, 1);
        PoolGeometry pool = PoolGeometry.square(5, 10, 10, 2, 2);
        int n = 5; // 25 planes: four groups of eight, so an emulated GPU's blocks go round their loop twice
        Random rng = new Random(11);
        Shape in = Shape.of(n, 3, 12, 12), mid = Shape.of(n, 5, 10, 10), out = Shape.of(n, 5, 5, 5);
        Pair x = Pair.random(strict, in, rng), y = Pair.random(strict, mid, rng), dyPool = Pair.random(strict, out, rng);
        Pair pooled = Pair.poisoned(strict, out), mask = new Pair(strict.allocateInts(out), CPU.allocateInts(out));
        strict.maxPoolForward(pooled.gpu, mask.gpu, y.gpu, pool);
        CPU.maxPoolForward(pooled.cpu, mask.cpu, y.cpu, pool);
        Pair dyAct = Pair.random(strict, mid, rng);
        for (boolean pooling : new boolean[] {true, false}) {
            for (boolean cells : new boolean[] {true, false}) {
                strict.usePoolCells(cells);
                Pair dy = Pair.poisoned(strict, mid), dw = Pair.random(strict, Shape.of(5, 3, 3, 3), rng), db = Pair.random(strict, Shape.of(5), rng);
                if (pooling) {
                    strict.maxPoolBackward(dy.gpu, db.gpu, dyPool.gpu, mask.gpu, y.gpu, pool);
                    CPU.maxPoolBackward(dy.cpu, dyPool.cpu, mask.cpu, y.cpu, pool);
                } else { // the convolution's tanh
                    strict.activationBackward(Activation.TANH, dy.gpu, db.gpu, dyAct.gpu, y.gpu, y.gpu);
                    CPU.activationBackward(Activation.TANH, dy.cpu, dyAct.cpu, y.cpu, y.cpu);
                }
                strict.convBackwardFilter(dw.gpu, null, x.gpu, dy.gpu, conv);
                CPU.convBackwardFilter(dw.cpu, db.cpu, x.cpu, dy.cpu, conv);
                String what = (pooling ? "under a max pooling" : "under a tanh") + (cells ? ", from the plane sums" : ", from a pass over dx");
                dy.assertBitwise("the convolution's output gradient " + what);
                dw.assertNear("filter gradient " + what + " by " + strict.convolutionAlgorithm(conv, n, Dnn.Direction.BACKWARD_FILTER), STRICT_CONVOLUTION);
                db.assertNear("bias gradient " + what, STRICT);
            }
        }
        strict.usePoolCells(true);
    }

    /** LeNet-5's S2 at batch 64: each channel's sums split over 32 blocks, then added up in order. */
    @Test
    void subsamplingParameterGradientsSplitOverBlocksAndRepeatBitwise() {
        PoolGeometry g = PoolGeometry.square(6, 28, 28, 2, 2);
        int n = 64;
        assertEquals(32, CudaFeatureMapOps.parts(g.c(), (long) n * g.p() * g.q()), "blocks per channel");
        assertEquals(1, CudaFeatureMapOps.parts(300, 100_000), "one block per channel fills the GPU already");
        Random rng = new Random(6);
        Shape in = Shape.of(n, g.c(), g.h(), g.w()), out = Shape.of(n, g.c(), g.p(), g.q());
        Pair x = Pair.random(strict, in, rng), dy = Pair.random(strict, out, rng), beta = Pair.random(strict, Shape.of(g.c()), rng);
        double[] start = Pair.random(strict, Shape.of(g.c()), rng).cpu.toDoubleArray();
        float[][] results = new float[4][];
        for (int run = 0; run < 2; run++) {
            Pair dx = Pair.poisoned(strict, in), dbeta = Pair.of(strict, Shape.of(g.c()), start), db = Pair.of(strict, Shape.of(g.c()), start);
            strict.subsampleBackward(dx.gpu, dbeta.gpu, db.gpu, dy.gpu, x.gpu, beta.gpu, g);
            CPU.subsampleBackward(dx.cpu, dbeta.cpu, db.cpu, dy.cpu, x.cpu, beta.cpu, g);
            dbeta.assertNear("dbeta over 32 blocks a channel", STRICT);
            db.assertNear("db over 32 blocks a channel", STRICT);
            results[2 * run] = dbeta.gpu.toFloatArray();
            results[2 * run + 1] = db.gpu.toFloatArray();
        }
        assertArrayEquals(results[0], results[2], "the same sums in the same order: the same bits (dbeta)");
        assertArrayEquals(results[1], results[3], "the same sums in the same order: the same bits (db)");
    }

    @Test
    void maxPoolTiesPickTheFirstMaximumAndOverlapsGather() {
        PoolGeometry g = PoolGeometry.square(1, 5, 5, 3, 1); // windows overlap; constant input: every window ties
        Pair x = Pair.of(strict, Shape.of(1, 1, 5, 5), new double[25]), y = Pair.poisoned(strict, Shape.of(1, 1, 3, 3));
        Pair mask = new Pair(strict.allocateInts(y.cpu.shape()), CPU.allocateInts(y.cpu.shape()));
        strict.maxPoolForward(y.gpu, mask.gpu, x.gpu, g);
        CPU.maxPoolForward(y.cpu, mask.cpu, x.cpu, g);
        mask.assertBitwise("first maximum wins");
    }

    @ParameterizedTest
    @MethodSource("org.cnn4j.backend.Activation#everyKind")
    void activations(Activation f) {
        Random rng = new Random(f.kind().ordinal());
        // (n, k): element by element; (n, c, h, w): a warp per plane (when the plane kernels are on).
        for (Shape s : List.of(Shape.of(7, 333), Shape.of(3, 5, 13, 11))) {
            double[] values = Data.gaussian(rng, s.size(), 3);
            Pair x = Pair.of(strict, s, values), y = Pair.poisoned(strict, s), dy = Pair.random(strict, s, rng), dx = Pair.poisoned(strict, s);
            strict.activationForward(f, y.gpu, x.gpu);
            CPU.activationForward(f, y.cpu, x.cpu);
            y.assertNear(f + " forward on " + s, STRICT);
            // Backward from the same y on both sides: the kernel rounds as the CPU does.
            Tensor yOnGpu = strict.upload(s, y.cpu.toFloatArray());
            strict.activationBackward(f, dx.gpu, dy.gpu, x.gpu, yOnGpu);
            CPU.activationBackward(f, dx.cpu, dy.cpu, x.cpu, y.cpu);
            if (f == Activation.SILU || f == Activation.GELU) {
                dx.assertNear(f + " backward on " + s, STRICT); // exponentials and erfc of its own
            } else {
                dx.assertBitwise(f + " backward on " + s);
            }
        }
        // A layer's bias and activation in one pass, on (n, k) and (n, k, h, w), with and without a bias.
        for (Shape shape : List.of(Shape.of(7, 333), Shape.of(3, 5, 4, 6))) {
            for (boolean withBias : new boolean[] {true, false}) {
                Pair z = Pair.of(strict, shape, Data.gaussian(rng, shape.size(), 3)), bias = Pair.random(strict, Shape.of(shape.dim(1)), rng);
                strict.biasActivation(z.gpu, withBias ? bias.gpu : null, f);
                CPU.biasActivation(z.cpu, withBias ? bias.cpu : null, f);
                if (f == Activation.IDENTITY || f == Activation.RELU || f.kind() == Activation.Kind.LEAKY_RELU) {
                    z.assertBitwise(f + " with bias " + withBias + " on " + shape);
                } else {
                    z.assertNear(f + " with bias " + withBias + " on " + shape, STRICT);
                }
            }
        }
    }

    /**
     * NaN and ±∞ pass through the activations, the fused convolution's ReLU and max pooling as on
     * the CPU: a NaN is never hidden as 0 (PTX's max.f32 drops a NaN operand; the kernels test for it).
     */
    @Test
    void nanAndInfinityPassThroughActivationsAndPoolingAsOnTheCpu() {
        Random rng = new Random(13);
        Shape s = Shape.of(2, 3, 6, 6);
        double[] values = Data.gaussian(rng, s.size(), 3);
        for (int i = 0; i < values.length; i += 7) values[i] = i % 3 == 0 ? Double.NaN : i % 3 == 1 ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
        values[0] = Double.NaN; // the first tap of a window, and a window whose later taps are larger
        Pair x = Pair.of(strict, s, values), dy = Pair.random(strict, s, rng);
        for (Activation f : Activation.everyKind()) {
            Pair y = Pair.poisoned(strict, s), dx = Pair.poisoned(strict, s);
            strict.activationForward(f, y.gpu, x.gpu);
            CPU.activationForward(f, y.cpu, x.cpu);
            y.assertSpecialsThenNear(f + " forward with NaN and ±∞", STRICT);
            Tensor yOnGpu = strict.upload(s, y.cpu.toFloatArray());
            strict.activationBackward(f, dx.gpu, dy.gpu, x.gpu, yOnGpu);
            CPU.activationBackward(f, dx.cpu, dy.cpu, x.cpu, y.cpu);
            if (f == Activation.SILU || f == Activation.GELU) {
                dx.assertSpecialsThenNear(f + " backward with NaN and ±∞", STRICT);
            } else {
                dx.assertBitwise(f + " backward with NaN and ±∞");
            }
            Pair z = Pair.of(strict, s, values);
            strict.biasActivation(z.gpu, null, f);
            CPU.biasActivation(z.cpu, null, f);
            z.assertSpecialsThenNear(f + " in place with NaN and ±∞", STRICT);
        }
        ConvGeometry g = ConvGeometry.square(3, 6, 6, 4, 3, 1, 1, 1);
        Pair w = Pair.random(strict, Shape.of(4, 3, 3, 3), rng), b = Pair.random(strict, Shape.of(4), rng);
        Pair finite = Pair.random(strict, s, rng), fused = Pair.poisoned(strict, Shape.of(2, 4, 6, 6));
        strict.convForward(fused.gpu, finite.gpu, w.gpu, b.gpu, Activation.RELU, g);
        CPU.convForward(fused.cpu, finite.cpu, w.cpu, b.cpu, Activation.RELU, g);
        fused.assertSpecialsThenNear("conv + bias + ReLU into a NaN-filled y: finite, by " + strict.convolutionAlgorithm(g, 2, Dnn.Direction.FORWARD),
                STRICT_CONVOLUTION);
        // With stride 2, cuDNN has only algorithms that sum products as the CPU does: an FFT or a
        // Winograd transform would spread one infinite input over a whole tile, as NaN.
        ConvGeometry strided = ConvGeometry.square(3, 6, 6, 4, 3, 1, 2, 1);
        Pair nanIn = Pair.of(strict, s, values), fusedNan = Pair.poisoned(strict, Shape.of(2, 4, 3, 3));
        strict.convForward(fusedNan.gpu, nanIn.gpu, w.gpu, b.gpu, Activation.RELU, strided);
        CPU.convForward(fusedNan.cpu, nanIn.cpu, w.cpu, b.cpu, Activation.RELU, strided);
        fusedNan.assertSpecialsThenNear("conv + bias + ReLU of an input with NaN and ±∞, by " + strict.convolutionAlgorithm(strided, 2, Dnn.Direction.FORWARD),
                STRICT);

        for (PoolGeometry pool : List.of(PoolGeometry.square(3, 6, 6, 2, 2), PoolGeometry.square(3, 6, 6, 3, 1))) {
            Shape out = Shape.of(2, 3, pool.p(), pool.q());
            Pair y = Pair.poisoned(strict, out), mask = new Pair(strict.allocateInts(out), CPU.allocateInts(out));
            strict.maxPoolForward(y.gpu, mask.gpu, x.gpu, pool);
            CPU.maxPoolForward(y.cpu, mask.cpu, x.cpu, pool);
            y.assertBitwise("max pool with NaN and ±∞ " + pool);
            mask.assertBitwise("max pool mask with NaN and ±∞ " + pool);
            Pair dyPool = Pair.random(strict, out, rng);
            for (boolean cells : new boolean[] {true, false}) {
                strict.usePoolCells(cells);
                try {
                    Pair dx = Pair.poisoned(strict, s);
                    strict.maxPoolBackward(dx.gpu, dyPool.gpu, mask.gpu, x.gpu, pool);
                    CPU.maxPoolBackward(dx.cpu, dyPool.cpu, mask.cpu, x.cpu, pool);
                    dx.assertBitwise("max pool backward through a ReLU's NaN and ±∞ " + pool + (cells ? " (cells)" : ""));
                } finally {
                    strict.usePoolCells(true);
                }
            }
        }
    }

    /**
     * RandomNetworksTest's networks drawn at random (grouped, strided and dilated convolutions,
     * poolings in every mode, batch normalisation, each activation, residual additions, channel
     * concatenations, hidden dense layers): one training step in strict float32 against PyTorch
     * float64, within the float32 tolerances of the CPU's check; failures name the network and the
     * tensor.
     */
    @Test
    void randomNetworksTakeTheirTrainingStepAsInPyTorch() {
        for (org.cnn4j.testing.RandomNetworks.Network n : org.cnn4j.testing.RandomNetworks.all()) {
            n.assertStep(strict, org.cnn4j.testing.RandomNetworks.FLOAT32);
        }
    }

    @Test
    void denseProductsAndSoftmax() {
        Random rng = new Random(4);
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                Pair a = Pair.random(strict, ta ? Shape.of(37, 19) : Shape.of(19, 37), rng);
                Pair b = Pair.random(strict, tb ? Shape.of(23, 37) : Shape.of(37, 23), rng);
                Pair c = Pair.random(strict, Shape.of(19, 23), rng);
                strict.gemm(ta, tb, 0.5, a.gpu, b.gpu, 0.25, c.gpu);
                CPU.gemm(ta, tb, 0.5, a.cpu, b.cpu, 0.25, c.cpu);
                c.assertNear("gemm " + ta + " " + tb, STRICT);
            }
        }
        Pair x = Pair.random(strict, Shape.of(9, 10), rng), y = Pair.poisoned(strict, Shape.of(9, 10));
        strict.softmaxForward(y.gpu, x.gpu);
        CPU.softmaxForward(y.cpu, x.cpu);
        y.assertNear("softmax", STRICT);
        Pair dy = Pair.random(strict, y.cpu.shape(), rng), dx = Pair.poisoned(strict, y.cpu.shape());
        strict.softmaxBackward(dx.gpu, dy.gpu, y.gpu);
        CPU.softmaxBackward(dx.cpu, dy.cpu, y.cpu);
        dx.assertNear("softmax backward", STRICT);
    }

    @Test
    void lossesArgmaxAndDropout() {
        Random rng = new Random(5);
        int n = 1031, classes = 10; // rows a thread each: more than an emulated GPU's two blocks of threads cover at once
        Pair logits = lossAndArgmaxAgree(n, classes, rng);
        Pair loss = Pair.poisoned(strict, Shape.of(n));
        int[] bad = Data.labels(rng, n, classes);
        bad[17] = 12;
        Tensor badLabels = strict.uploadInts(Shape.of(n), bad);
        String m = assertThrows(IllegalArgumentException.class, () -> strict.softmaxCrossEntropy(loss.gpu, null, logits.gpu, badLabels, 1)).getMessage();
        assertTrue(m.contains("label 12 at batch index 17"), m);

        Shape s = Shape.of(1000, 37);
        Pair x = Pair.random(strict, s, rng), y = Pair.poisoned(strict, s), mask = Pair.poisoned(strict, s);
        strict.dropoutForward(y.gpu, mask.gpu, x.gpu, 0.3, 987654321L);
        CPU.dropoutForward(y.cpu, mask.cpu, x.cpu, 0.3, 987654321L);
        mask.assertBitwise("dropout mask (the same counter-based hash)");
        y.assertBitwise("dropout forward");
        Pair dy = Pair.random(strict, s, rng), dxd = Pair.poisoned(strict, s);
        strict.dropoutBackward(dxd.gpu, dy.gpu, mask.gpu);
        CPU.dropoutBackward(dxd.cpu, dy.cpu, mask.cpu);
        dxd.assertBitwise("dropout backward");
    }

    /** The softmax cross-entropy, its gradient and argmax of n random rows of logits; returns the logits. */
    private static Pair lossAndArgmaxAgree(int n, int classes, Random rng) {
        String what = " of " + n + " rows of " + classes;
        Pair logits = Pair.of(strict, Shape.of(n, classes), Data.gaussian(rng, n * classes, 4)), labels = Pair.ints(strict, Shape.of(n), Data.labels(rng, n, classes));
        Pair loss = Pair.poisoned(strict, Shape.of(n)), dx = Pair.poisoned(strict, Shape.of(n, classes));
        strict.softmaxCrossEntropy(loss.gpu, dx.gpu, logits.gpu, labels.gpu, 1.0 / n);
        CPU.softmaxCrossEntropy(loss.cpu, dx.cpu, logits.cpu, labels.cpu, 1.0 / n);
        loss.assertNear("softmax cross-entropy" + what, STRICT);
        dx.assertNear("softmax cross-entropy gradient" + what, STRICT);
        Pair out = new Pair(strict.allocateInts(Shape.of(n)), CPU.allocateInts(Shape.of(n)));
        strict.argmax(out.gpu, logits.gpu);
        CPU.argmax(out.cpu, logits.cpu);
        out.assertBitwise("argmax" + what);
        return logits;
    }

    /** Random pooling geometries (seeded): every mode and padding rule, as {@link #poolings} but between its corners. */
    @Test
    void randomPoolingGeometriesAgreeBitwise() {
        Random rng = new Random(41);
        int tried = 0;
        for (int made = 0; made < 200; tried++) {
            int windowH = 1 + rng.nextInt(5), windowW = 1 + rng.nextInt(5), dilation = rng.nextInt(4) == 0 ? 3 : 1;
            PoolGeometry g;
            try {
                g = new PoolGeometry(1 + rng.nextInt(4), 1 + rng.nextInt(14), 1 + rng.nextInt(14), windowH, windowW, 1 + rng.nextInt(4),
                        1 + rng.nextInt(4), rng.nextInt(windowH / 2 + 1), rng.nextInt(windowW / 2 + 1), rng.nextInt(windowH / 2 + 1),
                        rng.nextInt(windowW / 2 + 1), 1 + rng.nextInt(dilation), 1 + rng.nextInt(dilation), rng.nextBoolean());
            } catch (IllegalArgumentException noSuchPooling) { // a window past the input, or one holding none of it: drawn again
                continue;
            }
            poolingAndSubsamplingAgreeBitwise(g);
            made++;
        }
        assertTrue(tried < 1000, tried + " draws for 200 geometries");
    }

    /**
     * Random shapes (seeded) for the kernels that split their work by shape: batch normalisation's
     * channels and planes, the bias gradient summed per plane as an activation's gradient is
     * written, and the loss over rows of up to 1,200 classes.
     */
    @Test
    void randomShapesAgree() {
        Random rng = new Random(42);
        for (int i = 0; i < 24; i++) {
            Shape s = i % 3 == 0 ? Shape.of(1 + rng.nextInt(300), 1 + rng.nextInt(300))
                    : Shape.of(1 + rng.nextInt(12), 1 + rng.nextInt(40), 1 + rng.nextInt(12), 1 + rng.nextInt(12));
            batchNormAgrees(s, rng);
            if (s.rank() == 4) {
                int c = s.dim(1);
                Pair y = Pair.random(strict, s, rng), dyNext = Pair.random(strict, s, rng);
                Pair dy = Pair.poisoned(strict, s), db = Pair.random(strict, Shape.of(c), rng);
                strict.activationBackward(Activation.TANH, dy.gpu, db.gpu, dyNext.gpu, y.gpu, y.gpu);
                CPU.activationBackward(Activation.TANH, dy.cpu, dyNext.cpu, y.cpu, y.cpu);
                CPU.biasBackward(db.cpu, dy.cpu);
                dy.assertBitwise("tanh backward " + s);
                db.assertNear("bias gradient summed with the tanh's " + s, STRICT);
            }
        }
        for (int i = 0; i < 8; i++) lossAndArgmaxAgree(1 + rng.nextInt(2500), 1 + rng.nextInt(i % 2 == 0 ? 1200 : 40), rng);
    }

    @Test
    void addAgreesBitwiseAlsoInPlaceAndWithNaN() {
        Random rng = new Random(21);
        Shape s = Shape.of(3, 1001);
        double[] av = Data.uniform(rng, s.size()), bv = Data.uniform(rng, s.size());
        av[5] = Double.NaN;
        bv[6] = Double.POSITIVE_INFINITY;
        av[7] = Double.NEGATIVE_INFINITY;
        bv[7] = Double.POSITIVE_INFINITY;
        Pair a = Pair.of(strict, s, av), b = Pair.of(strict, s, bv), y = Pair.poisoned(strict, s);
        strict.add(y.gpu, a.gpu, b.gpu);
        CPU.add(y.cpu, a.cpu, b.cpu);
        y.assertBitwise("add");
        strict.add(a.gpu, a.gpu, b.gpu);
        CPU.add(a.cpu, a.cpu, b.cpu);
        a.assertBitwise("add in place");
        assertTrue(Float.isNaN(a.gpu.toFloatArray()[7]), "-inf + inf is NaN");
    }

    @Test
    void copyChannelsAgreesBitwiseBothWays() {
        Random rng = new Random(23);
        Pair y = Pair.random(strict, Shape.of(5, 7, 9, 8), rng), x = Pair.random(strict, Shape.of(5, 2, 9, 8), rng);
        strict.copyChannels(y.gpu, x.gpu, 4, false);
        CPU.copyChannels(y.cpu, x.cpu, 4, false);
        y.assertBitwise("channels 4..6 written");
        Pair out = Pair.poisoned(strict, Shape.of(5, 3, 9, 8));
        strict.copyChannels(y.gpu, out.gpu, 1, true);
        CPU.copyChannels(y.cpu, out.cpu, 1, true);
        out.assertBitwise("channels 1..4 read");
    }

    @Test
    void padPlanesAgreesBitwiseBothWays() {
        Random rng = new Random(29);
        Pair x = Pair.random(strict, Shape.of(5, 2, 9, 8), rng), padded = Pair.poisoned(strict, Shape.of(5, 2, 12, 9));
        strict.padPlanes(padded.gpu, x.gpu, 2, 1, false);
        CPU.padPlanes(padded.cpu, x.cpu, 2, 1, false);
        padded.assertBitwise("x at (2, 1), zeros around");
        Pair back = Pair.poisoned(strict, Shape.of(5, 2, 9, 8));
        strict.padPlanes(padded.gpu, back.gpu, 2, 1, true);
        CPU.padPlanes(padded.cpu, back.cpu, 2, 1, true);
        back.assertBitwise("the window cut back out");
    }

    /** Batch normalisation's three passes against the CPU's, on images (n, c, h, w) and on features (n, c). */
    @Test
    void batchNormAgreesWithTheCpu() {
        Random rng = new Random(22);
        for (Shape s : List.of(Shape.of(5, 7, 6, 5), Shape.of(33, 19), Shape.of(1, 3, 2, 2))) batchNormAgrees(s, rng);
    }

    private static void batchNormAgrees(Shape s, Random rng) {
        int c = s.dim(1);
        Pair x = Pair.of(strict, s, Data.gaussian(rng, s.size(), 3)), gamma = Pair.random(strict, Shape.of(c), rng), beta = Pair.random(strict, Shape.of(c), rng);
        double[] var = Data.uniform(rng, c);
        for (int i = 0; i < c; i++) var[i] = 0.5 + Math.abs(var[i]);
        Pair runMean = Pair.random(strict, Shape.of(c), rng), runVar = Pair.of(strict, Shape.of(c), var);
        Pair y = Pair.poisoned(strict, s), mean = Pair.poisoned(strict, Shape.of(c)), invStd = Pair.poisoned(strict, Shape.of(c));
        strict.batchNormTraining(y.gpu, mean.gpu, invStd.gpu, x.gpu, gamma.gpu, beta.gpu, runMean.gpu, runVar.gpu, 0.1, 1e-5);
        CPU.batchNormTraining(y.cpu, mean.cpu, invStd.cpu, x.cpu, gamma.cpu, beta.cpu, runMean.cpu, runVar.cpu, 0.1, 1e-5);
        mean.assertNear("batch-norm batch mean " + s, STRICT);
        invStd.assertNear("batch-norm 1/std " + s, STRICT);
        runMean.assertNear("batch-norm running mean " + s, STRICT);
        runVar.assertNear("batch-norm running variance " + s, STRICT);
        y.assertNear("batch-norm training forward " + s, STRICT);

        Pair dy = Pair.of(strict, s, Data.gaussian(rng, s.size(), 1)), dx = Pair.poisoned(strict, s);
        Pair dgamma = Pair.random(strict, Shape.of(c), rng), dbeta = Pair.random(strict, Shape.of(c), rng); // accumulated onto
        strict.batchNormBackward(dx.gpu, dgamma.gpu, dbeta.gpu, dy.gpu, x.gpu, gamma.gpu, mean.gpu, invStd.gpu);
        CPU.batchNormBackward(dx.cpu, dgamma.cpu, dbeta.cpu, dy.cpu, x.cpu, gamma.cpu, mean.cpu, invStd.cpu);
        dx.assertNear("batch-norm dx " + s, STRICT);
        dgamma.assertNear("batch-norm dgamma " + s, STRICT);
        dbeta.assertNear("batch-norm dbeta " + s, STRICT);

        Pair yi = Pair.poisoned(strict, s);
        strict.batchNormInference(yi.gpu, x.gpu, gamma.gpu, beta.gpu, runMean.gpu, runVar.gpu, 1e-5);
        CPU.batchNormInference(yi.cpu, x.cpu, gamma.cpu, beta.cpu, runMean.cpu, runVar.cpu, 1e-5);
        yi.assertBitwise("batch-norm inference " + s + " (the same float arithmetic)");
    }

    /**
     * Graphs recorded as a CUDA graph and replayed, against eager CPU steps (their losses and the
     * running statistics the replays move): residual blocks (branches joined by Add, outputs
     * feeding two nodes), with batch normalisation; grouped and depthwise convolutions (each group
     * copied out, convolved and copied back, through reshaped views of the filters); and poolings
     * in ceil mode, after a zero padding, with an average that leaves the padding out (rescaled by
     * a tensor written once per batch size).
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"residual", "residual with batch norm", "depthwise-separable", "pooling modes"})
    void aGraphedStepMatchesTheCpu(String net) {
        int batch = batch();
        Dataset data = SyntheticShapes.generate(6 * batch, 28, 10, 7);
        Graph onCpu = (switch (net) {
            case "residual" -> org.cnn4j.testing.ResidualNets.block(1, 28, 6, 10);
            case "residual with batch norm" -> org.cnn4j.testing.ResidualNets.batchNormBlock(1, 28, 6, 10);
            case "depthwise-separable" -> org.cnn4j.testing.ResidualNets.separable(1, 28, 4, 10);
            default -> org.cnn4j.testing.ResidualNets.poolingModes(1, 28, 4, 10);
        }).seed(8).build(CPU);
        Graph onGpu = onCpu.copyTo(strict);
        Sgd cpuSgd = new Sgd(0.05).momentum(0.9), gpuSgd = new Sgd(0.05).momentum(0.9);
        try (org.cnn4j.model.GraphedStep step = new org.cnn4j.model.GraphedStep(onGpu, gpuSgd, batch, 6)) {
            double[] expected = eagerAndGraphed(onCpu, cpuSgd, gpuSgd, step, data, batch, 6, -1, 0);
            assertEquals(5, step.replays(), "every step after the first replays the graph");
            assertClose("6 graphed steps, " + net, expected, step.results().stream().mapToDouble(Graph.StepResult::loss).toArray(), 1e-3, 1e-3);
            for (int i = 0; i < onCpu.state().size(); i++) {
                double[] cpuState = onCpu.state().get(i).value().toDoubleArray();
                assertClose(onCpu.state().get(i).name(), cpuState, onGpu.state().get(i).value().toDoubleArray(), 1e-3 * Math.max(1, maxAbs(cpuState)), 1e-3);
            }
        }
        onGpu.close();
    }

    @Test
    void optimizerStepsAgreeBitwise() {
        Random rng = new Random(6);
        Shape s = Shape.of(1234);
        for (boolean nesterov : new boolean[] {false, true}) {
            Pair w = Pair.random(strict, s, rng), v = Pair.random(strict, s, rng), dw = Pair.random(strict, s, rng);
            strict.sgdStep(w.gpu, v.gpu, dw.gpu, 0.05, 0.9, 1e-4, nesterov);
            CPU.sgdStep(w.cpu, v.cpu, dw.cpu, 0.05, 0.9, 1e-4, nesterov);
            w.assertBitwise("sgd w, nesterov " + nesterov);
            v.assertBitwise("sgd velocity");
        }
        Pair w0 = Pair.random(strict, s, rng), dw0 = Pair.random(strict, s, rng);
        strict.sgdStep(w0.gpu, null, dw0.gpu, 0.1, 0, 0.01, false);
        CPU.sgdStep(w0.cpu, null, dw0.cpu, 0.1, 0, 0.01, false);
        w0.assertBitwise("plain sgd");
        for (boolean decoupled : new boolean[] {false, true}) {
            Pair w = Pair.random(strict, s, rng), m = Pair.random(strict, s, rng), dw = Pair.random(strict, s, rng);
            double[] vv = Data.uniform(rng, s.size());
            for (int i = 0; i < vv.length; i++) vv[i] = Math.abs(vv[i]);
            Pair v = Pair.of(strict, s, vv);
            strict.adamStep(w.gpu, m.gpu, v.gpu, dw.gpu, 1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, 7);
            CPU.adamStep(w.cpu, m.cpu, v.cpu, dw.cpu, 1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, 7);
            w.assertBitwise("adam w, decoupled " + decoupled);
            m.assertBitwise("adam m");
            v.assertBitwise("adam v");
        }
    }

    /** One launch for many tensors (chunk tables): the per-tensor kernels' results, bitwise, across chunk boundaries. */
    @Test
    void multiTensorFillAndSgdAgreeBitwise() {
        Random rng = new Random(13);
        int[] sizes = {10, 4096, 4097, 20_000, 1};
        for (double momentum : new double[] {0, 0.9}) {
            List<Pair> w = new java.util.ArrayList<>(), v = new java.util.ArrayList<>(), dw = new java.util.ArrayList<>();
            double[] rows = new double[sizes.length * org.cnn4j.backend.StepRates.COLUMNS];
            for (int i = 0; i < sizes.length; i++) {
                w.add(Pair.random(strict, Shape.of(sizes[i]), rng));
                v.add(momentum == 0 ? null : Pair.random(strict, Shape.of(sizes[i]), rng));
                dw.add(Pair.random(strict, Shape.of(sizes[i]), rng));
                System.arraycopy(org.cnn4j.backend.StepRates.sgd(0.01 * (i + 1), 1e-3 * i, 3), 0, rows, i * org.cnn4j.backend.StepRates.COLUMNS,
                        org.cnn4j.backend.StepRates.COLUMNS);
            }
            Tensor ratesGpu = strict.allocate(Shape.of(sizes.length, org.cnn4j.backend.StepRates.COLUMNS));
            Tensor ratesCpu = CPU.allocate(ratesGpu.shape());
            strict.write(ratesGpu, rows);
            CPU.write(ratesCpu, rows);
            strict.sgdSteps(w.stream().map(Pair::gpu).toList(), v.stream().map(p -> p == null ? null : p.gpu()).toList(),
                    dw.stream().map(Pair::gpu).toList(), ratesGpu, momentum, true);
            for (int i = 0; i < sizes.length; i++) {
                CPU.sgdStep(w.get(i).cpu(), v.get(i) == null ? null : v.get(i).cpu(), dw.get(i).cpu(), ratesCpu, i, momentum, true);
                w.get(i).assertBitwise("multi-tensor sgd w " + i + ", momentum " + momentum);
                if (v.get(i) != null) v.get(i).assertBitwise("multi-tensor sgd velocity " + i);
            }
            strict.fill(dw.stream().map(Pair::gpu).toList(), 0);
            for (Pair g : dw) assertArrayEquals(new float[g.gpu().size()], g.gpu().toFloatArray(), "cleared in one launch");
        }
        Pair one = Pair.random(strict, Shape.of(20_000), rng);
        strict.fill(one.gpu, 0.5);
        float[] halves = new float[20_000];
        java.util.Arrays.fill(halves, 0.5f);
        assertArrayEquals(halves, one.gpu.toFloatArray(), "one tensor filled by itself");
    }

    /**
     * A full chunk-table cache (models made and closed leave tables of addresses no longer used)
     * gives up its least recently used table, not one in use: a table used between every two new
     * ones stays without another allocation (emptying the whole cache would drop a table made
     * earlier in the same step, and with it that step's recording), while one left unused is made
     * again.
     */
    @Test
    void aFullChunkTableCacheGivesUpItsLeastRecentlyUsed() {
        try (Tensor one = strict.allocate(Shape.of(1))) {
            strict.fill(one, 0); // the context current on this thread
        }
        long[] used = {1L << 40, 0, 1}, unused = {(1L << 40) + 1, 0, 1};
        strict.table(used, 3);
        strict.table(unused, 3);
        for (int i = 0; i < 3 * CudaBackend.CHUNK_TABLES; i++) {
            strict.table(new long[] {(1L << 41) + i, 0, 1}, 3);
            long before = strict.memory.generation();
            strict.table(used, 3);
            assertEquals(before, strict.memory.generation(), "the table in use was kept");
        }
        long before = strict.memory.generation();
        strict.table(unused, 3);
        assertTrue(strict.memory.generation() > before, "the unused table was given up and made again");
    }

    @Test
    void memoryIsReusedAndCopiesRoundTrip() {
        float[] values = new float[1000];
        for (int i = 0; i < values.length; i++) values[i] = i * 0.5f - 7;
        Tensor t = strict.upload(Shape.of(10, 100), values);
        assertArrayEquals(values, t.toFloatArray());
        Tensor copy = strict.allocate(Shape.of(1000));
        strict.copy(copy, t.reshape(Shape.of(1000)));
        assertArrayEquals(values, copy.toFloatArray());
        assertEquals(values.length * (double) -7 + 0.5 * 999 * 1000 / 2, strict.sum(t), 1e-3);
        long before = strict.peakMemory();
        for (int i = 0; i < 50; i++) strict.allocate(Shape.of(1000, 100)).close();
        assertTrue(strict.peakMemory() - before <= 400_000 + 512, "freed blocks are reused: peak grew by " + (strict.peakMemory() - before));
        strict.resetPeakMemory();
        assertEquals(strict.memoryInUse(), strict.peakMemory(), "the peak starts over from what is in use");
        strict.allocate(Shape.of(1000, 100)).close();
        assertEquals(strict.memoryInUse() + 400_384, strict.peakMemory(), "one 400,000-byte block (rounded to 512) at the peak");
    }

    /**
     * Uploads return before the copy is done, through two pinned buffers in turn: back-to-back
     * uploads of growing sizes (past the first buffer's 1 MiB), a source array changed right after
     * its upload returned, and writes into tensors the stream is still reading must all land as
     * issued.
     */
    @Test
    void stagedUploadsLandInIssueOrder() {
        Random rng = new Random(3);
        int[] sizes = {10, 300_000, 7, 700_000, 262_144, 1_000_000};
        List<Tensor> tensors = new java.util.ArrayList<>();
        List<float[]> expected = new java.util.ArrayList<>();
        for (int size : sizes) {
            float[] v = new float[size];
            for (int i = 0; i < size; i++) v[i] = (float) rng.nextGaussian();
            tensors.add(strict.upload(Shape.of(size), v));
            expected.add(v.clone());
            java.util.Arrays.fill(v, Float.NaN); // the copy was staged: the device must not see this
        }
        // Write a tensor while a product still reads it: the product must see the old values.
        Tensor a = tensors.get(3).reshape(Shape.of(700, 1000)), b = strict.upload(Shape.of(1000, 1), Data.uniform(rng, 1000));
        Tensor c = strict.allocate(Shape.of(700, 1));
        strict.gemm(false, false, 1, a, b, 0, c);
        float[] before = c.toFloatArray();
        strict.gemm(false, false, 1, a, b, 0, c);
        strict.write(tensors.get(3), new float[700_000]);
        assertArrayEquals(before, c.toFloatArray(), "the product issued before the write");
        for (int i = 0; i < sizes.length; i++) {
            if (i != 3) assertArrayEquals(expected.get(i), tensors.get(i).toFloatArray(), "upload " + i + " of " + sizes[i] + " floats");
        }
        assertEquals(0.0, strict.sum(tensors.get(3)), "the write issued last");
        int[] labels = new int[500_000];
        for (int i = 0; i < labels.length; i++) labels[i] = rng.nextInt(10);
        assertArrayEquals(labels, strict.uploadInts(Shape.of(labels.length), labels).toIntArray());
    }

    /**
     * The batch size of the end-to-end tests (training steps, a graphed step, a trainer run): 64 on
     * a GPU; an emulator may take fewer to keep its run short.
     */
    int batch() {
        return 64;
    }

    /** The collectives library for {@code gpu}'s NCCL tests: NCCL itself on a GPU. */
    Collectives collectives(CudaBackend gpu) {
        return new Nccl(Nccl.find());
    }

    /**
     * NCCL in a job of one process, on the device: a bucket's all-reduce and a broadcast leave the
     * tensors as they were (the mean over one rank is x·1), and fmnist-cnn trained through
     * {@link org.cnn4j.model.GraphedStep} with its gradients averaged by NCCL in 64 KiB buckets
     * records the reductions with the step, replays it, and ends as plain training does.
     */
    @Test
    void ncclInAJobOfOneAveragesOnTheDeviceInsideTheGraph() {
        NcclCommunicator nccl;
        try {
            nccl = new NcclCommunicator(strict, org.cnn4j.distributed.Communicator.single(), () -> collectives(strict), 64 << 10);
        } catch (CudaException e) {
            assumeTrue(false, "NCCL cannot be used here: " + e.getMessage());
            return;
        }
        Random rng = new Random(31);
        try (nccl; Tensor a = strict.upload(Shape.of(1000), Data.gaussian(rng, 1000, 1)); Tensor b = strict.upload(Shape.of(3, 7), Data.gaussian(rng, 21, 5))) {
            float[] before = a.toFloatArray(), beforeB = b.toFloatArray();
            nccl.allReduceMean(List.of(a, b));
            nccl.broadcast(b, 0);
            assertArrayEquals(before, a.toFloatArray());
            assertArrayEquals(beforeB, b.toFloatArray());

            int batch = batch();
            Dataset data = SyntheticShapes.generate(6 * batch, 28, 10, 9);
            float[] pixels = data.images(data.statistics());
            Graph plain = Models.fmnistCnn().seed(5).build(strict), parallel = plain.copyTo(strict);
            parallel.averageGradientsOver(nccl);
            long replays;
            try (org.cnn4j.model.GraphedStep p = new org.cnn4j.model.GraphedStep(plain, new Sgd(0.05).momentum(0.9), batch, 6);
                 org.cnn4j.model.GraphedStep q = new org.cnn4j.model.GraphedStep(parallel, new Sgd(0.05).momentum(0.9), batch, 6)) {
                for (int i = 0; i < 6; i++) {
                    float[] x = java.util.Arrays.copyOfRange(pixels, i * batch * 784, (i + 1) * batch * 784);
                    int[] y = java.util.Arrays.copyOfRange(data.labels(), i * batch, (i + 1) * batch);
                    p.run(x, y);
                    q.run(x, y);
                }
                p.results();
                q.results();
                replays = q.replays();
            }
            assertEquals(5, replays, "the step with its NCCL reductions is recorded and replayed");
            for (int i = 0; i < plain.parameters().size(); i++) {
                assertClose("parameter " + plain.parameters().get(i).name() + " after 6 steps", plain.parameters().get(i).value().toDoubleArray(),
                        parallel.parameters().get(i).value().toDoubleArray(), STRICT, STRICT);
            }
            plain.close();
            parallel.close();
        }
    }

    private static float[] trainLosses(Graph model, Backend b, Dataset data, int batch, boolean adam) {
        float[] images = data.images(data.statistics());
        Tensor x = b.allocate(Shape.of(batch, 1, 28, 28)), y = b.allocateInts(Shape.of(batch));
        org.cnn4j.optim.Optimizer opt = adam ? new Adam(1e-3) : new Sgd(0.05).momentum(0.9).weightDecay(5e-4);
        float[] losses = new float[20];
        for (int step = 0; step < 20; step++) {
            int from = step * batch;
            b.write(x, java.util.Arrays.copyOfRange(images, from * 784, (from + batch) * 784));
            b.writeInts(y, java.util.Arrays.copyOfRange(data.labels(), from, from + batch));
            losses[step] = (float) model.trainStep(x, y, opt).loss();
        }
        return losses;
    }

    @Test
    void twentyTrainingStepsMatchTheCpuFromTheSameWeights() {
        int batch = batch();
        Dataset data = SyntheticShapes.generate(20 * batch, 28, 10, 3);
        for (CudaBackend gpu : List.of(strict, tf32)) {
            for (boolean adam : new boolean[] {false, true}) {
                Graph onCpu = Models.fmnistCnn().seed(9).build(CPU);
                Graph onGpu = onCpu.copyTo(gpu);
                float[] cpuLosses = trainLosses(onCpu, CPU, data, batch, adam), gpuLosses = trainLosses(onGpu, gpu, data, batch, adam);
                String what = "20 steps (" + (adam ? "Adam" : "SGD") + ") on " + gpu.name() + (gpu == strict ? ", strict float32" : ", TF32");
                if (gpu == strict) {
                    // a convolution algorithm's rounding compounds over the steps, fastest under Adam, which divides
                    // each gradient by its running size: a Winograd transform's (1e-5 of the scale) reaches 1e-3 of
                    // the loss by step 20 (scripts/convolution-error.py --training --seeds 8: at most 0.18 of this rule)
                    assertClose(what, toDouble(cpuLosses), gpuLosses, 1e-3, 5e-3);
                } else {
                    // TF32 rounds every convolution's operands to 10 mantissa bits, and a Winograd transform
                    // on tensor cores amplifies that rounding to a few per cent; training compounds it over
                    // the steps (6% by step 20 on the emulator, which rounds as an implicit GEMM on tensor
                    // cores does). From the same weights the first loss agrees; later steps must learn.
                    assertEquals(cpuLosses[0], gpuLosses[0], 1e-2 * cpuLosses[0], what + ": the first loss");
                    assertTrue(gpuLosses[19] < gpuLosses[0], what + ": it learns");
                }
                assertTrue(cpuLosses[19] < cpuLosses[0], "it learns");
            }
        }
    }

    /** The step log: the mean loss rounds once from a double sum (the GPU's order differs), the count is exact. */
    @Test
    void theStepLogAgreesWithTheCpu() {
        Random rng = new Random(12);
        int n = 300, classes = 10; // more rows than the kernel's 256 threads
        Pair loss = Pair.of(strict, Shape.of(n), Data.uniform(rng, n)), logits = Pair.of(strict, Shape.of(n, classes), Data.gaussian(rng, n * classes, 2));
        Pair labels = Pair.ints(strict, Shape.of(n), Data.labels(rng, n, classes));
        Pair log = Pair.poisoned(strict, Shape.of(2, 2)), cursor = Pair.ints(strict, Shape.of(1), new int[1]);
        for (int i = 0; i < 3; i++) {
            strict.recordStep(log.gpu, cursor.gpu, loss.gpu, logits.gpu, i == 1 ? null : labels.gpu);
            CPU.recordStep(log.cpu, cursor.cpu, loss.cpu, logits.cpu, i == 1 ? null : labels.cpu);
        }
        log.assertNear("step log", 1e-7);
        cursor.assertBitwise("the cursor counts past the log's end");
        assertEquals(log.cpu.toFloatArray()[1], log.gpu.toFloatArray()[1], "correct count");
        assertEquals(-1f, log.gpu.toFloatArray()[3], "no labels");
    }

    /**
     * {@code steps} training steps on successive batches of 1×28×28 {@code data}, eagerly by
     * {@code eager} (on the CPU, or on a GPU) and through a graphed step on the GPU, both optimizers
     * switching to {@code rate} at step {@code change} (none when negative); returns the eager losses.
     */
    private static double[] eagerAndGraphed(Graph eager, org.cnn4j.optim.Optimizer eagerOpt, org.cnn4j.optim.Optimizer gpuOpt,
                                            org.cnn4j.model.GraphedStep step, Dataset data, int batch, int steps, int change, double rate) {
        float[] images = data.images(data.statistics());
        double[] losses = new double[steps];
        Backend b = eager.backend();
        try (Tensor x = b.allocate(Shape.of(batch, 1, 28, 28)); Tensor y = b.allocateInts(Shape.of(batch))) {
            for (int i = 0; i < steps; i++) {
                if (i == change) {
                    eagerOpt.learningRate(rate);
                    gpuOpt.learningRate(rate);
                }
                float[] pixels = java.util.Arrays.copyOfRange(images, i * batch * 784, (i + 1) * batch * 784);
                int[] classes = java.util.Arrays.copyOfRange(data.labels(), i * batch, (i + 1) * batch);
                b.write(x, pixels);
                b.writeInts(y, classes);
                losses[i] = eager.trainStep(x, y, eagerOpt).loss();
                step.run(pixels, classes);
            }
        }
        return losses;
    }

    /**
     * The whole step recorded as a CUDA graph and replayed: in strict float32, the losses of eager
     * CPU steps from the same weights; with TF32, whose rounding compounds over the steps, those of
     * eager steps on the same backend (the same algorithms).
     */
    @Test
    void aGraphedTrainingStepMatchesEagerStepsAndReplays() {
        int batch = batch();
        Dataset data = SyntheticShapes.generate(12 * batch, 28, 10, 4);
        for (CudaBackend gpu : List.of(strict, tf32)) {
            Graph onCpu = Models.fmnistCnn().seed(5).build(CPU);
            Graph eager = gpu == strict ? onCpu : onCpu.copyTo(gpu), onGpu = onCpu.copyTo(gpu);
            Sgd eagerSgd = new Sgd(0.05).momentum(0.9).weightDecay(5e-4), gpuSgd = new Sgd(0.05).momentum(0.9).weightDecay(5e-4);
            double[] expected;
            List<Graph.StepResult> actual;
            try (org.cnn4j.model.GraphedStep step = new org.cnn4j.model.GraphedStep(onGpu, gpuSgd, batch, 5)) {
                // at step 6 a schedule's change: the replayed update kernels read the new rate
                expected = eagerAndGraphed(eager, eagerSgd, gpuSgd, step, data, batch, 12, 6, 0.01);
                actual = step.results();
                assertEquals(11, step.replays(), "every step after the first replays the graph on " + gpu.name());
            }
            assertClose("12 graphed steps on " + gpu.name() + " against eager steps on " + eager.backend().name(), expected,
                    actual.stream().mapToDouble(Graph.StepResult::loss).toArray(), 1e-3, 1e-3);
            if (eager != onCpu) eager.close();
            onGpu.close();
        }
    }

    @Test
    void recordingRefusesHostCopiesAndAllocationsAndLeavesTheBackendUsable() {
        Tensor t = strict.upload(Shape.of(4), new float[] {1, 2, 3, 4});
        String m = assertThrows(IllegalStateException.class, () -> strict.capture(() -> strict.downloadFloats(t))).getMessage();
        assertTrue(m.contains("a download to the host inside a step recorded as a CUDA graph"), m);
        m = assertThrows(Backend.MemoryChangedWhileRecording.class, () -> strict.capture(() -> strict.allocate(Shape.of(3)))).getMessage();
        assertTrue(m.contains("allocated 12 bytes of device memory while a step is recorded as a CUDA graph"), m);
        Tensor y = strict.allocate(Shape.of(4));
        try (Backend.Graph g = strict.capture(() -> strict.activationForward(Activation.RELU, y, t))) {
            strict.write(t, new float[] {-1, 5, -3, 7});
            assertTrue(g.replay());
            assertArrayEquals(new float[] {0, 5, 0, 7}, y.toFloatArray(), "the replay reads the tensor's current values");
            strict.allocate(Shape.of(1)).close();
            assertTrue(!g.replay(), "stale once memory changed hands");
        }
    }

    /**
     * The trainer on the GPU: 300 images in batches of 64 (four full batches, then one of 44; with
     * a smaller {@link #batch}, the numbers scaled down and again a partial batch last), an
     * evaluation after each epoch, so that every epoch the full batch's graph goes stale, runs
     * eagerly once and is recorded again. Per-epoch losses and accuracies as on the CPU.
     */
    @Test
    void aTrainerRunWithPartialBatchesMatchesTheCpu() throws java.io.IOException {
        int batch = batch();
        Dataset train = SyntheticShapes.generate(300 * batch / 64, 28, 10, 6), test = SyntheticShapes.generate(100 * batch / 64, 28, 10, 7);
        Graph onCpu = Models.fmnistCnn().seed(3).build(CPU);
        Graph onGpu = onCpu.copyTo(strict);
        org.cnn4j.train.Trainer.Options options = org.cnn4j.train.Trainer.Options.of(3, batch).seed(5);
        List<org.cnn4j.train.EpochMetrics> cpu = new org.cnn4j.train.Trainer(onCpu, new Sgd(0.05).momentum(0.9), options).fit(train, test);
        List<org.cnn4j.train.EpochMetrics> gpu = new org.cnn4j.train.Trainer(onGpu, new Sgd(0.05).momentum(0.9), options).fit(train, test);
        for (int e = 0; e < 3; e++) {
            assertEquals(cpu.get(e).trainLoss(), gpu.get(e).trainLoss(), 1e-3 * Math.max(1, cpu.get(e).trainLoss()), "train loss, epoch " + (e + 1));
            assertEquals(cpu.get(e).testLoss(), gpu.get(e).testLoss(), 1e-3 * Math.max(1, cpu.get(e).testLoss()), "test loss, epoch " + (e + 1));
            assertEquals(cpu.get(e).testAccuracy(), gpu.get(e).testAccuracy(), 0.03, "test accuracy, epoch " + (e + 1));
        }
        onGpu.close();
    }

    /**
     * The graphed step with each optimizer and with dropout (which keeps the step eager: its masks
     * change every step), against eager CPU steps from the same weights: Adam's bias corrections and
     * Nesterov momentum are read from the rates tensor at each replay, a learning-rate change after
     * the fourth step is followed, and dropout draws the CPU's masks. Strict float32, a small model.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"sgd,false", "adam,false", "sgd,true", "adam,true"})
    void graphedStepsWithEachOptimizerAndDropoutMatchTheCpu(String kind, boolean dropout) {
        int batch = 8, size = 12, classes = 4, steps = 9;
        java.util.function.Function<Backend, Graph> build = b -> {
            Graph.Builder m = Sequential.builder().input(1, size, size).add(new org.cnn4j.layer.Conv2d(1, 5, 3))
                    .add(new org.cnn4j.layer.ReLU()).add(new org.cnn4j.layer.MaxPool2d(2)).add(new org.cnn4j.layer.Flatten());
            if (dropout) m.add(new org.cnn4j.layer.Dropout(0.25));
            return m.add(new org.cnn4j.layer.Dense(5 * 5 * 5, classes)).loss(new org.cnn4j.loss.SoftmaxCrossEntropy()).seed(3).build(b);
        };
        java.util.function.Supplier<org.cnn4j.optim.Optimizer> optimizer = () -> kind.equals("adam")
                ? new Adam(2e-3).decoupled(true).weightDecay(0.01) : new Sgd(0.05).momentum(0.9).nesterov(true).weightDecay(1e-3);
        Random rng = new Random(8);
        Graph onCpu = build.apply(CPU), onGpu = build.apply(strict);
        org.cnn4j.optim.Optimizer cpuOpt = optimizer.get(), gpuOpt = optimizer.get();
        double[] expected = new double[steps];
        List<Graph.StepResult> actual;
        try (Tensor x = CPU.allocate(onCpu.inputShape().batch(batch)); Tensor y = CPU.allocateInts(Shape.of(batch));
             org.cnn4j.model.GraphedStep step = new org.cnn4j.model.GraphedStep(onGpu, gpuOpt, batch, 4)) {
            for (int i = 0; i < steps; i++) {
                if (i == 4) {
                    cpuOpt.learningRate(cpuOpt.learningRate() / 2);
                    gpuOpt.learningRate(gpuOpt.learningRate() / 2);
                }
                float[] pixels = new float[batch * size * size];
                for (int j = 0; j < pixels.length; j++) pixels[j] = (float) rng.nextGaussian();
                int[] labels = Data.labels(rng, batch, classes);
                CPU.write(x, pixels);
                CPU.writeInts(y, labels);
                expected[i] = onCpu.trainStep(x, y, cpuOpt).loss();
                step.run(pixels, labels);
            }
            actual = step.results();
            assertEquals(dropout ? 0 : steps - 1, step.replays(), "replays on " + strict.name());
        }
        assertClose(kind + (dropout ? " with dropout" : "") + ", graphed on " + strict.name(), expected,
                actual.stream().mapToDouble(Graph.StepResult::loss).toArray(), 1e-4, 1e-4);
        for (int i = 0; i < onCpu.parameters().size(); i++) {
            assertClose("weights " + onCpu.parameters().get(i).name(), onCpu.parameters().get(i).value().toDoubleArray(),
                    onGpu.parameters().get(i).value().toFloatArray(), 1e-4, 1e-4);
        }
        onCpu.close();
        onGpu.close();
    }

    /**
     * A checkpoint written from the GPU (parameters and optimizer state read back from the device)
     * resumes on the GPU as the uninterrupted run goes on, and on the CPU as closely as the two
     * backends agree.
     */
    @Test
    void aCheckpointFromTheGpuResumesOnTheGpuAndOnTheCpu(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws java.io.IOException {
        int batch = batch();
        Dataset train = SyntheticShapes.generate(200 * batch / 64, 28, 10, 8), test = SyntheticShapes.generate(64 * batch / 64, 28, 10, 9);
        org.cnn4j.train.Trainer.Options options = org.cnn4j.train.Trainer.Options.of(3, batch).seed(2);
        Graph straightModel = Models.fmnistCnn().seed(4).build(strict);
        org.cnn4j.train.Trainer straight = new org.cnn4j.train.Trainer(straightModel, new Sgd(0.05).momentum(0.9), options);
        List<org.cnn4j.train.EpochMetrics> expected = straight.fit(train, test);
        java.nio.file.Path checkpoint = dir.resolve("checkpoint.safetensors");
        Graph firstModel = Models.fmnistCnn().seed(4).build(strict);
        new org.cnn4j.train.Trainer(firstModel, new Sgd(0.05).momentum(0.9), options.epochs(2)).checkpointTo(checkpoint).fit(train, test);
        for (Backend b : List.of(strict, CPU)) {
            org.cnn4j.train.Trainer resumed = org.cnn4j.train.Trainer.resume(checkpoint, b).epochs(3);
            List<org.cnn4j.train.EpochMetrics> actual = resumed.fit(train, test);
            double tol = b == strict ? 1e-5 : 1e-3;
            assertEquals(expected.get(2).trainLoss(), actual.get(2).trainLoss(), tol * Math.max(1, expected.get(2).trainLoss()),
                    "the third epoch's loss, resumed on " + b.name());
            assertClose("weights resumed on " + b.name(), straightModel.parameters().getFirst().value().toDoubleArray(),
                    resumed.model().parameters().getFirst().value().toFloatArray(), tol, tol);
            resumed.model().close();
        }
        straightModel.close();
        firstModel.close();
    }
}
