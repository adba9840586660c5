package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.optim.Adam;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The graphed step trains exactly as {@link Graph#trainStep}: the same weights bit for bit and
 * the same losses, with the optimizer's rates read from the backend (a learning-rate change
 * between steps is followed). Its record-and-replay logic is checked on a CPU backend behind a
 * proxy whose "graphs" replay the recorded work by running it again and go stale, as CUDA's do,
 * when memory is allocated after the recording. The real CUDA graphs are checked by the GPU suite.
 */
class GraphedStepTest {
    private static final int SIZE = 12, CLASSES = 4, BATCH = 8;

    private static Graph model(Backend backend, boolean dropout) {
        Graph.Builder b = Sequential.builder().input(1, SIZE, SIZE)
                .add(new Conv2d(1, 5, 3)).add(new ReLU()).add(new MaxPool2d(2)).add(new Flatten());
        if (dropout) b.add(new Dropout(0.25));
        return b.add(new Dense(5 * 5 * 5, CLASSES)).loss(new SoftmaxCrossEntropy()).seed(3).build(backend);
    }

    private static Optimizer optimizer(String kind) {
        return kind.equals("adam") ? new Adam(2e-3).decoupled(true).weightDecay(0.01)
                : new Sgd(0.05).momentum(0.9).nesterov(true).weightDecay(1e-3);
    }

    /** Random batches: pixels and labels. */
    private static List<Object[]> batches(int count) {
        Random rng = new Random(8);
        List<Object[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            float[] x = new float[BATCH * SIZE * SIZE];
            for (int j = 0; j < x.length; j++) x[j] = (float) rng.nextGaussian();
            int[] y = new int[BATCH];
            for (int j = 0; j < BATCH; j++) y[j] = rng.nextInt(CLASSES);
            out.add(new Object[] {x, y});
        }
        return out;
    }

    private static float[][] weights(Graph m) {
        return m.parameters().stream().map(p -> p.value().toFloatArray()).toArray(float[][]::new);
    }

    /** The reference: trainStep on each batch, the learning rate halved after the fourth. */
    private static List<Graph.StepResult> eager(Graph m, Optimizer o, List<Object[]> data) {
        List<Graph.StepResult> out = new ArrayList<>();
        try (Tensor x = m.backend().allocate(m.inputShape().batch(BATCH)); Tensor y = m.backend().allocateInts(Shape.of(BATCH))) {
            for (int i = 0; i < data.size(); i++) {
                if (i == 4) o.learningRate(o.learningRate() / 2);
                m.backend().write(x, (float[]) data.get(i)[0]);
                m.backend().writeInts(y, (int[]) data.get(i)[1]);
                out.add(m.trainStep(x, y, o));
            }
        }
        return out;
    }

    private static List<Graph.StepResult> graphed(GraphedStep step, Optimizer o, List<Object[]> data, Runnable between) {
        List<Graph.StepResult> out = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            if (i == 4) o.learningRate(o.learningRate() / 2);
            step.run((float[]) data.get(i)[0], (int[]) data.get(i)[1]);
            between.run();
        }
        out.addAll(step.results());
        return out;
    }

    private static void assertSameTraining(Graph expectedModel, List<Graph.StepResult> expected, Graph model,
                                           List<Graph.StepResult> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            // The log keeps the mean as a float; trainStep sums in double and keeps the double.
            assertEquals(expected.get(i).loss(), actual.get(i).loss(), 1e-6 * Math.abs(expected.get(i).loss()), "loss of step " + i);
            assertEquals(expected.get(i).correct(), actual.get(i).correct(), "correct count of step " + i);
        }
        float[][] a = weights(expectedModel), b = weights(model);
        for (int i = 0; i < a.length; i++) assertArrayEquals(a[i], b[i], "parameter " + i + " after the steps, bit for bit");
        assertEquals(expectedModel.step(), model.step());
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "adam"})
    void trainsExactlyAsTrainStepDoes(String kind) {
        List<Object[]> data = batches(7);
        Graph reference = model(Backends.CPU, false), model = model(Backends.CPU, false);
        List<Graph.StepResult> expected = eager(reference, optimizer(kind), data);
        Optimizer o = optimizer(kind);
        try (GraphedStep step = new GraphedStep(model, o, BATCH, 3)) {
            List<Graph.StepResult> actual = graphed(step, o, data, () -> { });
            assertSameTraining(reference, expected, model, actual);
            assertEquals(0, step.replays(), "the CPU has no graphs");
            assertFalse(step.graphed());
        }
    }

    /** Pretend graphs for the CPU: replay runs the recorded work again; a graph is stale once memory has changed since its recording. */
    private static final class FakeGraphs {
        int captures, memoryChanges, allocatingRecordings;
        boolean refuse;

        Backend.Graph capture(Runnable work) {
            captures++;
            if (refuse) throw new IllegalStateException("this pretend device refuses to record");
            if (allocatingRecordings > 0) {
                allocatingRecordings--;
                throw new Backend.MemoryChangedWhileRecording("the work allocated while recorded");
            }
            int at = memoryChanges;
            return new Backend.Graph() {
                @Override
                public boolean replay() {
                    if (memoryChanges != at) return false;
                    work.run();
                    return true;
                }

                @Override
                public void close() {
                }
            };
        }
    }

    /** trainStep against a GraphedStep recording with the fake, on the same batches: they must agree; returns the step. */
    private static GraphedStep trainedAlike(int batches, boolean dropout, int window, FakeGraphs fake, Runnable between) {
        List<Object[]> data = batches(batches);
        Graph reference = model(Backends.CPU, dropout), model = model(Backends.CPU, dropout);
        List<Graph.StepResult> expected = eager(reference, optimizer("sgd"), data);
        Optimizer o = optimizer("sgd");
        GraphedStep step = new GraphedStep(model, o, BATCH, window, fake::capture);
        assertSameTraining(reference, expected, model, graphed(step, o, data, between));
        return step;
    }

    @Test
    void recordsOnTheSecondRunReplaysAfterwardsAndRecordsAgainWhenMemoryChanged() {
        FakeGraphs fake = new FakeGraphs();
        int[] run = {0};
        try (GraphedStep step = trainedAlike(9, false, 4, fake, () -> {
            if (++run[0] == 5) fake.memoryChanges++; // as an evaluation between epochs would
        })) {
            // Runs 1 and 6 eager (the first, and the first after the allocation); 2 and 7 recorded and replayed.
            assertEquals(2, fake.captures);
            assertEquals(7, step.replays());
            assertTrue(step.graphed());
        }
    }

    @Test
    void aStepThatCannotBeRecordedRunsEagerlyFromThenOn() {
        FakeGraphs fake = new FakeGraphs();
        fake.refuse = true;
        try (GraphedStep step = trainedAlike(5, false, 2, fake, () -> { })) {
            assertEquals(1, fake.captures, "one attempt, then no more");
            assertEquals(0, step.replays());
        }
    }

    @Test
    void aRecordingThatMeetsAnAllocationIsTriedAgainAfterAnEagerRun() {
        FakeGraphs fake = new FakeGraphs();
        fake.allocatingRecordings = 1;
        try (GraphedStep step = trainedAlike(6, false, 4, fake, () -> { })) {
            // Run 1 eager; run 2's recording meets an allocation, so it runs eagerly; run 3 records; 3-6 replay.
            assertEquals(2, fake.captures);
            assertEquals(4, step.replays());
        }
    }

    @Test
    void dropoutIsNeverRecordedSinceItsMaskChangesEveryStep() {
        FakeGraphs fake = new FakeGraphs();
        try (GraphedStep step = trainedAlike(5, true, 8, fake, () -> { })) {
            assertEquals(0, fake.captures);
            assertEquals(0, step.replays());
        }
    }

    @Test
    void badBatchesAreRefusedBeforeAnythingRuns() {
        Graph model = model(Backends.CPU, false);
        try (GraphedStep step = new GraphedStep(model, new Sgd(0.1), BATCH, 4)) {
            float[] x = new float[BATCH * SIZE * SIZE];
            int[] y = new int[BATCH];
            y[5] = CLASSES;
            String m = assertThrows(IllegalArgumentException.class, () -> step.run(x, y)).getMessage();
            assertTrue(m.contains("label 4 at batch index 5 is outside the 4 classes"), m);
            m = assertThrows(IllegalArgumentException.class, () -> step.run(new float[3], new int[BATCH])).getMessage();
            assertTrue(m.contains("a batch of 8 samples of (1, 12, 12) has 1152 values, got 3"), m);
            m = assertThrows(IllegalArgumentException.class, () -> step.run(x, new int[2])).getMessage();
            assertTrue(m.contains("needs 8 labels, got 2"), m);
            assertEquals(0, model.step());
            assertEquals(0, step.pending());
            for (Parameter p : model.parameters()) assertEquals(0, p.gradient().toDoubleArray()[0]);
        }
    }
}
