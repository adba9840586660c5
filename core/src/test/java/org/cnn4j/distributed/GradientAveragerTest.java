package org.cnn4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.layer.Parameter;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Models;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Twins;
import org.junit.jupiter.api.Test;

/**
 * The buckets of {@link GradientAverager}, in one process: a pretend job of two processes whose
 * other process always holds the same gradients (its sum doubles them, so the mean leaves them
 * as they are) records each reduction, and what the model's gradients held at that moment.
 */
class GradientAveragerTest {

    /**
     * Two processes in name: every sum doubles the values, as a twin process would, plus
     * {@code offset}·(i + 1) at index i (the twin's difference, 0 unless a test sets it).
     */
    private static final class TwinJob extends Twins {
        float offset;
        final List<List<Tensor>> reduced = new ArrayList<>();
        /** For each reduction: which of the model's parameters had a gradient (not all zeros) by then. */
        final List<List<String>> computedBy = new ArrayList<>();
        Graph model;

        @Override
        public void allReduceSum(float[] values) {
            super.allReduceSum(values);
            for (int i = 0; i < values.length; i++) values[i] += offset * (i + 1);
        }

        @Override
        public void allReduceMean(List<Tensor> tensors) {
            reduced.add(tensors);
            List<String> computed = new ArrayList<>();
            for (Parameter p : model == null ? List.<Parameter>of() : model.parameters()) {
                for (float v : p.gradient().toFloatArray()) {
                    if (v != 0) {
                        computed.add(p.name());
                        break;
                    }
                }
            }
            computedBy.add(computed);
            super.allReduceMean(tensors);
        }
    }

    private static final Dataset DATA = SyntheticShapes.generate(16, 28, 10, 3);

    private static float[] trainTwoSteps(Graph model, CpuBackend cpu) {
        Sgd sgd = new Sgd(0.05).momentum(0.9);
        float[] images = DATA.images(DATA.statistics());
        for (int step = 0; step < 2; step++) {
            try (Tensor x = cpu.upload(Shape.of(8, 1, 28, 28), Arrays.copyOfRange(images, step * 8 * 784, (step + 1) * 8 * 784));
                 Tensor y = cpu.uploadInts(Shape.of(8), Arrays.copyOfRange(DATA.labels(), step * 8, (step + 1) * 8))) {
                model.trainStep(x, y, sgd);
            }
        }
        return DataParallelProbe.flat(model);
    }

    @Test
    void bucketsAreReducedFromTheLastLayerAsTheBackwardPassFinishesThem() {
        TwinJob job = new TwinJob();
        try (CpuBackend cpu = new CpuBackend(1); Graph model = Models.fmnistCnn().seed(5).build(cpu)) {
            job.model = model;
            // fmnist-cnn's gradients: conv1 1.25 KiB, conv2 72.3 KiB, fc1 800.5 KiB, fc2 5.0 KiB.
            model.averageGradientsOver(job, 16 << 10);
            float[] parallel = trainTwoSteps(model, cpu);
            assertEquals(6, job.reduced.size(), "three buckets a step");
            List<List<String>> names = job.reduced.subList(0, 3).stream()
                    .map(b -> b.stream().map(t -> nameOf(model, t)).toList()).toList();
            assertEquals(List.of(List.of("fc2.weight", "fc2.bias", "fc1.weight", "fc1.bias"), List.of("conv2.weight", "conv2.bias"),
                    List.of("conv1.weight", "conv1.bias")), names, "closed once past 16 KiB, from the last layer back, a layer never split");
            assertEquals(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), job.computedBy.get(0),
                    "the first bucket goes as soon as fc1 is done: conv1 and conv2 have no gradient yet");
            assertEquals(List.of("conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), job.computedBy.get(1));
            assertEquals(8, job.computedBy.get(2).size());
            assertEquals(job.reduced.subList(0, 3), job.reduced.subList(3, 6), "the same tensors every step");

            try (CpuBackend cpu2 = new CpuBackend(1); Graph alone = Models.fmnistCnn().seed(5).build(cpu2)) {
                assertArrayEquals(trainTwoSteps(alone, cpu2), parallel, "a twin's mean changes nothing");
            }
        }
    }

    @Test
    void withoutABucketSizeTheGradientsGoTogetherAfterTheBackwardPass() {
        TwinJob job = new TwinJob();
        try (CpuBackend cpu = new CpuBackend(1); Graph model = Models.fmnistCnn().seed(5).build(cpu)) {
            job.model = model;
            model.averageGradientsOver(job);
            trainTwoSteps(model, cpu);
            assertEquals(2, job.reduced.size(), "one bucket a step");
            assertEquals(8, job.reduced.get(0).size());
            assertEquals(8, job.computedBy.get(0).size(), "after the whole backward pass");
        }
        try (CpuBackend cpu = new CpuBackend(1); Graph model = Models.fmnistCnn().seed(5).build(cpu)) {
            assertEquals(4, new GradientAverager(job, model.layers(), 1).buckets(), "a bucket per layer with parameters");
        }
    }

    /** A backward pass cut short (a step whose recording failed) leaves no trace: the next pass reduces every bucket. */
    @Test
    void anInterruptedPassDoesNotShiftTheNext() {
        TwinJob job = new TwinJob();
        try (CpuBackend cpu = new CpuBackend(1); Graph model = Models.fmnistCnn().seed(5).build(cpu)) {
            GradientAverager averager = new GradientAverager(job, model.layers(), 1);
            averager.begin();
            averager.layerDone(model.layers().size() - 1); // fc2: its bucket goes
            assertEquals(1, job.reduced.size());
            averager.begin(); // the pass broke off; a new one starts
            for (int i = model.layers().size() - 1; i >= 0; i--) averager.layerDone(i);
            averager.finish();
            assertEquals(5, job.reduced.size(), "all four buckets again");
            assertEquals(job.reduced.get(0), job.reduced.get(1), "starting from fc2's");
        }
    }

    private static String nameOf(Graph model, Tensor gradient) {
        for (Parameter p : model.parameters()) if (p.gradient() == gradient) return p.name();
        throw new AssertionError("not a gradient of the model");
    }

    @Test
    void theMeanThroughTheHostIsTheSumOverTheProcessesOverTheirNumber() {
        TwinJob job = new TwinJob();
        job.offset = 1; // the twin holds v + (i + 1) at index i of the two tensors laid end to end
        try (CpuBackend cpu = new CpuBackend(1); Tensor a = cpu.upload(Shape.of(3), new float[] {1, -2, 0.5f});
             Tensor b = cpu.upload(Shape.of(2, 2), new float[] {3, 4, 5, 6})) {
            job.allReduceMean(List.of(a, b));
            assertArrayEquals(new float[] {1.5f, -1, 2}, a.toFloatArray());
            assertArrayEquals(new float[] {5, 6.5f, 8, 9.5f}, b.toFloatArray());
            assertEquals(1, job.reduced.size());
        }
    }
}
