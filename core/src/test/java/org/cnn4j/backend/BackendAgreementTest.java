package org.cnn4j.backend;

import static org.cnn4j.testing.Close.assertClose;
import static org.cnn4j.testing.Close.maxAbs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.stream.Stream;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each CPU operation (1 and 2 threads) against the float64 reference backend's naive loops, on
 * random data and many shapes. Inputs are rounded to float first, so both sides compute from the
 * same numbers and the difference is float32 arithmetic alone: tolerance 1e-4 relative to the
 * data's scale (sums of up to a few thousand products; float32 epsilon 6e-8, errors growing about
 * as √length). Every output is first poisoned, so an element left unwritten shows.
 */
class BackendAgreementTest {
    private static final Backend REF = Backends.REFERENCE;
    private static final double TOL = 1e-4;

    static Stream<CpuBackend> cpus() {
        return Stream.of(Backends.CPU, Backends.CPU_1_THREAD);
    }

    /** A pair of tensors holding the same values: one on the CPU backend under test, one on the reference. */
    private record Pair(Tensor cpu, Tensor ref) {
        static Pair of(CpuBackend cpu, Shape shape, double[] values) {
            return new Pair(cpu.upload(shape, values), REF.upload(shape, values));
        }

        static Pair random(CpuBackend cpu, Shape shape, Random rng) {
            return of(cpu, shape, Data.uniform(rng, shape.size()));
        }

        /** Filled with a value that no correct operation leaves behind. */
        static Pair poisoned(CpuBackend cpu, Shape shape) {
            Pair p = new Pair(cpu.allocate(shape), REF.allocate(shape));
            cpu.fill(p.cpu, Float.NaN);
            REF.fill(p.ref, Float.NaN);
            return p;
        }

        void assertAgree(String what) {
            double[] expected = ref.toDoubleArray();
            assertClose(what + " on " + cpu.backend().name(), expected, cpu.toDoubleArray(), TOL * Math.max(1, maxAbs(expected)), TOL);
        }
    }

    static Stream<Arguments> convolutions() {
        List<ConvGeometry> shapes = List.of(
                ConvGeometry.square(1, 28, 28, 8, 3, 0, 1, 1),
                ConvGeometry.square(3, 9, 9, 5, 3, 1, 1, 1),
                ConvGeometry.square(4, 11, 10, 6, 3, 1, 2, 1),
                ConvGeometry.square(3, 12, 12, 4, 5, 2, 3, 1),
                new ConvGeometry(2, 10, 13, 3, 2, 4, 1, 2, 1, 2, 1, 1),
                new ConvGeometry(3, 14, 12, 4, 3, 2, 2, 1, 1, 1, 2, 3),
                ConvGeometry.square(16, 7, 7, 8, 1, 0, 1, 1),
                ConvGeometry.square(8, 8, 8, 4, 1, 0, 2, 1),
                ConvGeometry.square(32, 13, 13, 64, 3, 0, 1, 1),
                ConvGeometry.square(16, 5, 5, 12, 5, 0, 1, 1),             // the filter covers the image: a dense product
                new ConvGeometry(3, 4, 6, 5, 4, 6, 0, 0, 2, 3, 1, 1));
        return cpus().flatMap(cpu -> shapes.stream().map(g -> Arguments.of(cpu, g)));
    }

    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("convolutions")
    void convolutionAgrees(CpuBackend cpu, ConvGeometry g) {
        Random rng = new Random(g.hashCode());
        int n = 3;
        Pair x = Pair.random(cpu, Shape.of(n, g.c(), g.h(), g.w()), rng);
        Pair w = Pair.random(cpu, Shape.of(g.k(), g.c(), g.r(), g.s()), rng);
        Pair b = Pair.random(cpu, Shape.of(g.k()), rng);
        Pair dy = Pair.random(cpu, Shape.of(n, g.k(), g.p(), g.q()), rng);

        Pair y = Pair.poisoned(cpu, dy.cpu.shape());
        cpu.convForward(y.cpu, x.cpu, w.cpu, g);
        REF.convForward(y.ref, x.ref, w.ref, g);
        cpu.addBias(y.cpu, b.cpu);
        REF.addBias(y.ref, b.ref);
        y.assertAgree("conv forward + bias " + g);

        // The fused call adds the bias to the finished sums: bitwise the two calls above.
        Tensor fused = cpu.allocate(y.cpu.shape());
        cpu.fill(fused, Float.NaN);
        cpu.convForward(fused, x.cpu, w.cpu, b.cpu, g);
        assertArrayEquals(y.cpu.toFloatArray(), fused.toFloatArray(), "fused conv forward + bias " + g);
        // With an activation applied as the results are written out (ReLU), or after (the others):
        // bitwise the conv + bias above followed by the activation's own pass.
        for (Activation f : Activation.everyKind()) {
            Tensor separate = cpu.allocate(y.cpu.shape());
            cpu.activationForward(f, separate, y.cpu);
            cpu.fill(fused, Float.NaN);
            cpu.convForward(fused, x.cpu, w.cpu, b.cpu, f, g);
            assertArrayEquals(separate.toFloatArray(), fused.toFloatArray(), "conv + bias + " + f + " " + g);
            cpu.convForward(fused, x.cpu, w.cpu, null, f, g);
            cpu.convForward(separate, x.cpu, w.cpu, g);
            cpu.activationForward(f, separate, separate);
            assertArrayEquals(separate.toFloatArray(), fused.toFloatArray(), "conv + " + f + " without bias " + g);
        }

        Pair dx = Pair.poisoned(cpu, x.cpu.shape());
        cpu.convBackwardData(dx.cpu, dy.cpu, w.cpu, g);
        REF.convBackwardData(dx.ref, dy.ref, w.ref, g);
        dx.assertAgree("conv backward-data " + g);

        // Parameter gradients accumulate: start both from the same non-zero values.
        Pair dw = Pair.random(cpu, w.cpu.shape(), rng);
        Pair db = Pair.random(cpu, b.cpu.shape(), rng);
        cpu.convBackwardFilter(dw.cpu, x.cpu, dy.cpu, g);
        REF.convBackwardFilter(dw.ref, x.ref, dy.ref, g);
        cpu.biasBackward(db.cpu, dy.cpu);
        REF.biasBackward(db.ref, dy.ref);
        dw.assertAgree("conv backward-filter " + g);
        db.assertAgree("bias backward " + g);

        // The fused call: the filter and bias gradients from one pass over dy.
        Pair dw2 = Pair.random(cpu, w.cpu.shape(), rng), db2 = Pair.random(cpu, b.cpu.shape(), rng);
        cpu.convBackwardFilter(dw2.cpu, db2.cpu, x.cpu, dy.cpu, g);
        REF.convBackwardFilter(dw2.ref, x.ref, dy.ref, g);
        REF.biasBackward(db2.ref, dy.ref);
        dw2.assertAgree("fused conv backward-filter " + g);
        db2.assertAgree("fused bias backward " + g);
    }

    @Test
    void convolutionBackwardFilterSumsLargeBatchesInFixedChunks() {
        // More images than filter chunks, an uneven split: 37 images in 16 chunks.
        convolutionAgreesOnBatch(Backends.CPU, ConvGeometry.square(2, 6, 6, 3, 3, 1, 1, 1), 37);
    }

    private void convolutionAgreesOnBatch(CpuBackend cpu, ConvGeometry g, int n) {
        Random rng = new Random(n);
        Pair x = Pair.random(cpu, Shape.of(n, g.c(), g.h(), g.w()), rng);
        Pair dy = Pair.random(cpu, Shape.of(n, g.k(), g.p(), g.q()), rng);
        Pair dw = Pair.random(cpu, Shape.of(g.k(), g.c(), g.r(), g.s()), rng);
        cpu.convBackwardFilter(dw.cpu, x.cpu, dy.cpu, g);
        REF.convBackwardFilter(dw.ref, x.ref, dy.ref, g);
        dw.assertAgree("conv backward-filter, batch " + n);
    }

    static Stream<Arguments> matrices() {
        int[][] sizes = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 130, 300}, {20, 600, 131}, {129, 10, 1600}};
        return cpus().flatMap(cpu -> Stream.of(sizes).flatMap(s -> Stream.of(
                Arguments.of(cpu, s[0], s[1], s[2], false, false), Arguments.of(cpu, s[0], s[1], s[2], true, false),
                Arguments.of(cpu, s[0], s[1], s[2], false, true), Arguments.of(cpu, s[0], s[1], s[2], true, true))));
    }

    @ParameterizedTest(name = "{0} m={1} n={2} k={3} transA={4} transB={5}", autoCloseArguments = false)
    @MethodSource("matrices")
    void gemmAgrees(CpuBackend cpu, int m, int n, int k, boolean transA, boolean transB) {
        Random rng = new Random(m * 31 + n * 7 + k);
        Pair a = Pair.random(cpu, transA ? Shape.of(k, m) : Shape.of(m, k), rng);
        Pair b = Pair.random(cpu, transB ? Shape.of(n, k) : Shape.of(k, n), rng);
        Pair c = Pair.random(cpu, Shape.of(m, n), rng);
        cpu.gemm(transA, transB, 0.75, a.cpu, b.cpu, -0.5, c.cpu);
        REF.gemm(transA, transB, 0.75, a.ref, b.ref, -0.5, c.ref);
        c.assertAgree("gemm alpha 0.75 beta -0.5");

        Pair fresh = Pair.poisoned(cpu, Shape.of(m, n));
        cpu.gemm(transA, transB, 1, a.cpu, b.cpu, 0, fresh.cpu);
        REF.gemm(transA, transB, 1, a.ref, b.ref, 0, fresh.ref);
        fresh.assertAgree("gemm beta 0 ignores old contents");
    }

    static Stream<Arguments> pools() {
        List<PoolGeometry> shapes = List.of(
                PoolGeometry.square(3, 8, 8, 2, 2),
                PoolGeometry.square(2, 9, 9, 3, 2),
                PoolGeometry.square(2, 7, 11, 2, 2),
                new PoolGeometry(3, 10, 9, 3, 2, 2, 3, 1, 1),
                PoolGeometry.square(1, 5, 5, 5, 1),
                PoolGeometry.square(4, 6, 6, 3, 1));
        return cpus().flatMap(cpu -> shapes.stream().map(g -> Arguments.of(cpu, g)));
    }

    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("pools")
    void poolingAndSubsamplingAgree(CpuBackend cpu, PoolGeometry g) {
        Random rng = new Random(g.hashCode());
        int n = 2;
        Shape in = Shape.of(n, g.c(), g.h(), g.w()), out = Shape.of(n, g.c(), g.p(), g.q());
        Pair x = Pair.random(cpu, in, rng), dy = Pair.random(cpu, out, rng);

        Pair y = Pair.poisoned(cpu, out), dx = Pair.poisoned(cpu, in);
        Tensor maskCpu = cpu.allocateInts(out), maskRef = REF.allocateInts(out);
        cpu.maxPoolForward(y.cpu, maskCpu, x.cpu, g);
        REF.maxPoolForward(y.ref, maskRef, x.ref, g);
        y.assertAgree("max pool " + g);
        assertArrayEquals(maskRef.toIntArray(), maskCpu.toIntArray(), "max-pool masks");
        cpu.maxPoolBackward(dx.cpu, dy.cpu, maskCpu, g);
        REF.maxPoolBackward(dx.ref, dy.ref, maskRef, g);
        dx.assertAgree("max pool backward " + g);
        Pair dxRelu = Pair.poisoned(cpu, in); // with the backward of a ReLU whose output was x (the reference: the default, two passes)
        cpu.maxPoolBackward(dxRelu.cpu, dy.cpu, maskCpu, x.cpu, g);
        REF.maxPoolBackward(dxRelu.ref, dy.ref, maskRef, x.ref, g);
        dxRelu.assertAgree("max pool backward with a ReLU's " + g);
        Tensor twoPasses = cpu.allocate(in);
        cpu.maxPoolBackward(twoPasses, dy.cpu, maskCpu, g);
        cpu.activationBackward(org.cnn4j.backend.Activation.RELU, twoPasses, twoPasses, x.cpu, x.cpu);
        assertArrayEquals(twoPasses.toFloatArray(), dxRelu.cpu.toFloatArray(), "one pass, bitwise the two");

        y = Pair.poisoned(cpu, out);
        dx = Pair.poisoned(cpu, in);
        cpu.avgPoolForward(y.cpu, x.cpu, g);
        REF.avgPoolForward(y.ref, x.ref, g);
        y.assertAgree("avg pool " + g);
        cpu.avgPoolBackward(dx.cpu, dy.cpu, g);
        REF.avgPoolBackward(dx.ref, dy.ref, g);
        dx.assertAgree("avg pool backward " + g);

        if (g.padH() == 0 && g.padW() == 0) {
            Pair beta = Pair.random(cpu, Shape.of(g.c()), rng), b = Pair.random(cpu, Shape.of(g.c()), rng);
            Pair dbeta = Pair.random(cpu, Shape.of(g.c()), rng), db = Pair.random(cpu, Shape.of(g.c()), rng);
            y = Pair.poisoned(cpu, out);
            dx = Pair.poisoned(cpu, in);
            cpu.subsampleForward(y.cpu, x.cpu, beta.cpu, b.cpu, g);
            REF.subsampleForward(y.ref, x.ref, beta.ref, b.ref, g);
            y.assertAgree("subsample " + g);
            cpu.subsampleBackward(dx.cpu, dbeta.cpu, db.cpu, dy.cpu, x.cpu, beta.cpu, g);
            REF.subsampleBackward(dx.ref, dbeta.ref, db.ref, dy.ref, x.ref, beta.ref, g);
            dx.assertAgree("subsample dx " + g);
            dbeta.assertAgree("subsample dbeta " + g);
            db.assertAgree("subsample db " + g);
        }
    }

    @ParameterizedTest(autoCloseArguments = false)
    @MethodSource("org.cnn4j.backend.Activation#everyKind")
    void activationsAgree(Activation f) {
        for (CpuBackend cpu : cpus().toList()) {
            Random rng = new Random(f.kind().ordinal());
            Shape shape = Shape.of(70_001); // more than one parallel piece, odd length
            double[] xs = Data.gaussian(rng, shape.size(), 3);
            Pair x = Pair.of(cpu, shape, xs), dy = Pair.random(cpu, shape, rng);
            Pair y = Pair.poisoned(cpu, shape), dx = Pair.poisoned(cpu, shape);
            cpu.activationForward(f, y.cpu, x.cpu);
            REF.activationForward(f, y.ref, x.ref);
            y.assertAgree(f + " forward");
            cpu.activationBackward(f, dx.cpu, dy.cpu, x.cpu, y.cpu);
            REF.activationBackward(f, dx.ref, dy.ref, x.ref, y.ref);
            dx.assertAgree(f + " backward");
        }
    }

    @Test
    void softmaxLossesAndArgmaxAgree() {
        for (CpuBackend cpu : cpus().toList()) {
            Random rng = new Random(7);
            int n = 13, classes = 11;
            Shape shape = Shape.of(n, classes);
            Pair x = Pair.of(cpu, shape, Data.gaussian(rng, shape.size(), 4)), dy = Pair.random(cpu, shape, rng);
            Pair y = Pair.poisoned(cpu, shape), dx = Pair.poisoned(cpu, shape);
            cpu.softmaxForward(y.cpu, x.cpu);
            REF.softmaxForward(y.ref, x.ref);
            y.assertAgree("softmax");
            cpu.softmaxBackward(dx.cpu, dy.cpu, y.cpu);
            REF.softmaxBackward(dx.ref, dy.ref, y.ref);
            dx.assertAgree("softmax backward");

            int[] labels = Data.labels(rng, n, classes);
            Pair loss = Pair.poisoned(cpu, Shape.of(n));
            dx = Pair.poisoned(cpu, shape);
            cpu.softmaxCrossEntropy(loss.cpu, dx.cpu, x.cpu, cpu.uploadInts(Shape.of(n), labels), 0.25);
            REF.softmaxCrossEntropy(loss.ref, dx.ref, x.ref, REF.uploadInts(Shape.of(n), labels), 0.25);
            loss.assertAgree("cross-entropy");
            dx.assertAgree("cross-entropy gradient");

            Pair t = Pair.random(cpu, shape, rng);
            loss = Pair.poisoned(cpu, Shape.of(n));
            dx = Pair.poisoned(cpu, shape);
            cpu.squaredError(loss.cpu, dx.cpu, x.cpu, t.cpu, 0.5);
            REF.squaredError(loss.ref, dx.ref, x.ref, t.ref, 0.5);
            loss.assertAgree("squared error");
            dx.assertAgree("squared error gradient");

            Tensor am = cpu.allocateInts(Shape.of(n)), amRef = REF.allocateInts(Shape.of(n));
            cpu.argmax(am, x.cpu);
            REF.argmax(amRef, x.ref);
            assertArrayEquals(amRef.toIntArray(), am.toIntArray());
        }
    }

    @Test
    void dropoutDrawsTheSameMaskOnEveryBackend() {
        for (CpuBackend cpu : cpus().toList()) {
            Random rng = new Random(3);
            Shape shape = Shape.of(4, 50_000);
            Pair x = Pair.random(cpu, shape, rng), dy = Pair.random(cpu, shape, rng);
            Pair y = Pair.poisoned(cpu, shape), mask = Pair.poisoned(cpu, shape), dx = Pair.poisoned(cpu, shape);
            cpu.dropoutForward(y.cpu, mask.cpu, x.cpu, 0.3, 99);
            REF.dropoutForward(y.ref, mask.ref, x.ref, 0.3, 99);
            mask.assertAgree("dropout mask");
            y.assertAgree("dropout output");
            cpu.dropoutBackward(dx.cpu, dy.cpu, mask.cpu);
            REF.dropoutBackward(dx.ref, dy.ref, mask.ref);
            dx.assertAgree("dropout backward");

            double[] m = mask.ref.toDoubleArray();
            long dropped = Arrays.stream(m).filter(v -> v == 0).count();
            // 200,000 Bernoulli(0.3) draws: standard deviation about 205; allow 5 of them.
            assertEquals(0.3 * m.length, dropped, 1025, "dropped fraction");
            assertTrue(Arrays.stream(m).allMatch(v -> v == 0 || Math.abs(v - 1 / 0.7) < 1e-12), "kept values scaled by 1/(1-p)");
        }
    }

    @ParameterizedTest(autoCloseArguments = false)
    @EnumSource(CombinationPenalty.class)
    void featureMapCombinationAgrees(CombinationPenalty penalty) {
        for (CpuBackend cpu : cpus().toList()) {
            Random rng = new Random(penalty.ordinal());
            Shape kShape = Shape.of(4, 3, 2, 2), cShape = Shape.of(4, 3);
            Pair k = Pair.random(cpu, kShape, rng), c = Pair.of(cpu, cShape, Data.gaussian(rng, 12, 2));
            Pair wEff = Pair.poisoned(cpu, kShape), alpha = Pair.poisoned(cpu, cShape);
            cpu.combinationForward(wEff.cpu, alpha.cpu, k.cpu, c.cpu);
            REF.combinationForward(wEff.ref, alpha.ref, k.ref, c.ref);
            alpha.assertAgree("mixing weights");
            wEff.assertAgree("effective filters");

            Pair dwEff = Pair.random(cpu, kShape, rng), dk = Pair.random(cpu, kShape, rng), dc = Pair.random(cpu, cShape, rng);
            cpu.combinationBackward(dk.cpu, dc.cpu, dwEff.cpu, alpha.cpu, k.cpu, penalty, 0.3);
            REF.combinationBackward(dk.ref, dc.ref, dwEff.ref, alpha.ref, k.ref, penalty, 0.3);
            dk.assertAgree("kernel gradient");
            dc.assertAgree("mixing-logit gradient");
            assertEquals(REF.combinationPenalty(alpha.ref, penalty, 0.3), cpu.combinationPenalty(alpha.cpu, penalty, 0.3), 1e-5);
        }
    }

    @Test
    void optimizerStepsAgree() {
        for (CpuBackend cpu : cpus().toList()) {
            Random rng = new Random(11);
            Shape shape = Shape.of(40_000);
            for (boolean nesterov : new boolean[] {false, true}) {
                Pair w = Pair.random(cpu, shape, rng), v = Pair.random(cpu, shape, rng), g = Pair.random(cpu, shape, rng);
                cpu.sgdStep(w.cpu, v.cpu, g.cpu, 0.1, 0.9, 0.01, nesterov);
                REF.sgdStep(w.ref, v.ref, g.ref, 0.1, 0.9, 0.01, nesterov);
                w.assertAgree("sgd weights, nesterov " + nesterov);
                v.assertAgree("sgd velocity, nesterov " + nesterov);
            }
            for (boolean decoupled : new boolean[] {false, true}) {
                Pair w = Pair.random(cpu, shape, rng), g = Pair.random(cpu, shape, rng), m = Pair.random(cpu, shape, rng);
                double[] secondMoment = Data.uniform(rng, shape.size());
                for (int i = 0; i < secondMoment.length; i++) secondMoment[i] = Math.abs(secondMoment[i]);
                Pair v = Pair.of(cpu, shape, secondMoment);
                cpu.adamStep(w.cpu, m.cpu, v.cpu, g.cpu, 0.01, 0.9, 0.999, 1e-8, 0.05, decoupled, 3);
                REF.adamStep(w.ref, m.ref, v.ref, g.ref, 0.01, 0.9, 0.999, 1e-8, 0.05, decoupled, 3);
                w.assertAgree("adam weights, decoupled " + decoupled);
                m.assertAgree("adam first moment");
                v.assertAgree("adam second moment");
            }
        }
    }

    /**
     * The step log against a loop written here: losses summed in double, the argmax with the first
     * maximum winning (ties are planted), −1 without labels, and a full log that keeps counting.
     */
    @Test
    void theStepLogRecordsMeanLossAndCorrectCount() {
        Random rng = new Random(5);
        int n = 37, classes = 6;
        double[] loss = Data.uniform(rng, n), logits = Data.uniform(rng, n * classes);
        for (int i = 0; i < n; i += 3) logits[i * classes + 4] = logits[i * classes + 1]; // ties: the first should win
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = rng.nextInt(classes);
        labels[0] = 1;
        double sum = 0;
        int correct = 0;
        for (int i = 0; i < n; i++) {
            sum += (float) loss[i];
            int best = 0;
            for (int j = 1; j < classes; j++) if ((float) logits[i * classes + j] > (float) logits[i * classes + best]) best = j;
            if (best == labels[i]) correct++;
        }
        assertTrue(correct > 0 && correct < n, "a count that can be wrong both ways: " + correct);
        for (Backend b : List.of(Backends.CPU, REF)) {
            Tensor log = b.allocate(Shape.of(2, 2)), cursor = b.allocateInts(Shape.of(1));
            b.fill(log, Float.NaN);
            Tensor l = b.upload(Shape.of(n), loss), x = b.upload(Shape.of(n, classes), logits), y = b.uploadInts(Shape.of(n), labels);
            b.recordStep(log, cursor, l, x, y);
            b.recordStep(log, cursor, l, x, null);
            b.recordStep(log, cursor, l, x, y); // past the end: not written, still counted
            double[] out = log.toDoubleArray();
            assertEquals((float) (sum / n), out[0], 1e-6, b.name());
            assertEquals(correct, out[1], b.name());
            assertEquals((float) (sum / n), out[2], 1e-6, b.name());
            assertEquals(-1, out[3], b.name());
            assertEquals(3, cursor.toIntArray()[0], b.name());
            var e = assertThrows(IllegalArgumentException.class, () -> b.recordStep(log, cursor, l, x, b.uploadInts(Shape.of(n - 1), new int[n - 1])));
            assertTrue(e.getMessage().contains("recordStep: labels has shape (36), expected (37)"), e.getMessage());
        }
    }

    /** Rates rows scale per parameter: two rows of one tensor, two different updates. */
    @Test
    void optimizerStepsReadTheirOwnRowOfRates() {
        for (Backend b : List.of(Backends.CPU, REF)) {
            Tensor rates = b.allocate(Shape.of(2, StepRates.COLUMNS));
            double[] rows = new double[2 * StepRates.COLUMNS];
            System.arraycopy(StepRates.sgd(0.5, 0, 1), 0, rows, 0, StepRates.COLUMNS);
            System.arraycopy(StepRates.adam(0.25, 0.1, 2, 0.9, 0.99, true), 0, rows, StepRates.COLUMNS, StepRates.COLUMNS);
            b.write(rates, rows);
            Tensor w = b.upload(Shape.of(2), new double[] {1, -2}), dw = b.upload(Shape.of(2), new double[] {0.5, 4});
            b.sgdStep(w, null, dw, rates, 0, 0, false);
            assertArrayEquals(new double[] {0.75, -4}, w.toDoubleArray(), 1e-7, b.name());
            Tensor m = b.allocate(Shape.of(2)), v = b.allocate(Shape.of(2));
            b.adamStep(w, m, v, dw, rates, 1, 0.9, 0.99, 0, true);
            // m = 0.1 g, v = 0.01 g², t = 2: m̂ = 0.1g/0.19, v̂ = 0.01g²/0.0199; w = w(1 − 0.025) − 0.25 m̂/sqrt(v̂).
            for (int i = 0; i < 2; i++) {
                double w0 = new double[] {0.75, -4}[i], g = new double[] {0.5, 4}[i];
                double expected = w0 * (1 - 0.025) - 0.25 * (0.1 * g / 0.19) / Math.sqrt(0.01 * g * g / 0.0199);
                assertEquals(expected, w.toDoubleArray()[i], 1e-6, b.name() + " element " + i);
            }
            var e = assertThrows(IllegalArgumentException.class, () -> b.sgdStep(w, null, dw, rates, 2, 0, false));
            assertTrue(e.getMessage().contains("sgdStep: row 2 is outside the 2 rows of the rates"), e.getMessage());
        }
    }

    @Test
    void everyBackendRejectsTensorsOfAnotherBackend() {
        Tensor onRef = REF.allocate(Shape.of(2, 3));
        Tensor onCpu = Backends.CPU.allocate(Shape.of(2, 3));
        BiConsumer<Backend, Tensor> copyIntoOwn = (b, t) -> b.copy(b.allocate(t.shape()), t);
        var e = assertThrows(IllegalArgumentException.class, () -> copyIntoOwn.accept(Backends.CPU, onRef));
        assertTrue(e.getMessage().contains("reference"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> copyIntoOwn.accept(REF, onCpu));
    }
}
