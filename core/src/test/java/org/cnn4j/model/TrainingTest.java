package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.SyntheticShapes;
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

/** Training end to end on the generated shapes: it learns, it is deterministic, and per-layer rates apply. */
class TrainingTest {
    private static final int SIZE = 16, CLASSES = 6, BATCH = 32;

    private static Graph cnn(Backend backend, long seed) {
        return Sequential.builder().input(1, SIZE, SIZE)
                .add(new Conv2d(1, 8, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Conv2d(8, 16, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Flatten()).add(new Dropout(0.1)).add(new Dense(16 * 2 * 2, CLASSES))
                .loss(new SoftmaxCrossEntropy()).seed(seed).build(backend);
    }

    /** Trains for {@code steps} batches and returns the training losses. */
    private static double[] train(Graph model, Dataset data, Optimizer optimizer, int steps) {
        Backend b = model.backend();
        int pixels = SIZE * SIZE;
        float[] images = data.images(data.statistics());
        Tensor x = b.allocate(Shape.of(BATCH, 1, SIZE, SIZE)), y = b.allocateInts(Shape.of(BATCH));
        double[] losses = new double[steps];
        for (int step = 0; step < steps; step++) {
            int first = (step * BATCH) % (data.size() - BATCH);
            b.write(x, Arrays.copyOfRange(images, first * pixels, (first + BATCH) * pixels));
            b.writeInts(y, Arrays.copyOfRange(data.labels(), first, first + BATCH));
            losses[step] = model.trainStep(x, y, optimizer).loss();
        }
        return losses;
    }

    private static double accuracy(Graph model, Dataset data) {
        Backend b = model.backend();
        Tensor x = b.upload(Shape.of(data.size(), 1, SIZE, SIZE), data.images(data.statistics()));
        int[] predicted = model.predict(x);
        int correct = 0;
        for (int i = 0; i < data.size(); i++) if (predicted[i] == data.label(i)) correct++;
        return (double) correct / data.size();
    }

    private static double mean(double[] v, int from, int to) {
        return Arrays.stream(v, from, to).average().orElseThrow();
    }

    @Test
    void smallCnnLearnsTheGeneratedShapes() {
        Graph model = cnn(Backends.CPU, 1);
        Dataset train = SyntheticShapes.generate(4000, SIZE, CLASSES, 1);
        Dataset test = SyntheticShapes.generate(600, SIZE, CLASSES, 2);
        double[] losses = train(model, train, new Sgd(0.05).momentum(0.9), 400);
        double start = mean(losses, 0, 10), end = mean(losses, 380, 400);
        double acc = accuracy(model, test);
        assertTrue(start > 1.6, "starts near log(6) = 1.79: " + start);
        assertTrue(end < 0.3 * start, "loss falls from " + start + " to " + end);
        assertTrue(acc > 0.85, "held-out accuracy " + acc + " (chance is 1/6)");
    }

    @Test
    void adamLearnsToo() {
        Graph model = cnn(Backends.CPU, 2);
        Dataset train = SyntheticShapes.generate(2000, SIZE, CLASSES, 3);
        double[] losses = train(model, train, new Adam(3e-3), 200);
        assertTrue(mean(losses, 190, 200) < 0.5 * mean(losses, 0, 10), Arrays.toString(Arrays.copyOfRange(losses, 190, 200)));
    }

    @Test
    void sameSeedGivesBitwiseTheSameWeightsWhateverTheThreadCount() {
        Dataset data = SyntheticShapes.generate(400, SIZE, CLASSES, 5);
        List<float[]> runs = new java.util.ArrayList<>();
        for (CpuBackend backend : new CpuBackend[] {Backends.CPU, Backends.CPU, Backends.CPU_1_THREAD}) {
            Graph model = cnn(backend, 7);
            train(model, data, new Sgd(0.05).momentum(0.9).weightDecay(1e-4), 12);
            runs.add(flatten(model.parameters()));
        }
        assertArrayEquals(runs.get(0), runs.get(1), "same seed, same run: bitwise equal");
        assertArrayEquals(runs.get(0), runs.get(2), "1 thread and 2 threads: bitwise equal");
        Graph other = cnn(Backends.CPU, 8);
        assertTrue(!Arrays.equals(runs.get(0), flatten(other.parameters())), "another seed, other weights");
    }

    @Test
    void perLayerLearningRateAndDecayMultipliersApply() {
        Dataset data = SyntheticShapes.generate(200, SIZE, CLASSES, 9);
        Graph model = Sequential.builder().input(1, SIZE, SIZE)
                .add(new Conv2d(1, 4, 3).learningRateMultiplier(0))
                .add(new ReLU()).add(new Flatten())
                .add(new Dense(4 * 14 * 14, CLASSES).learningRateMultiplier(2).weightDecayMultiplier(0))
                .loss(new SoftmaxCrossEntropy()).seed(3).build(Backends.REFERENCE);
        Graph twin = model.copyTo(Backends.REFERENCE);
        List<Parameter> p = model.parameters();
        float[] frozen = p.get(0).value().toFloatArray();
        double[] denseBefore = p.get(2).value().toDoubleArray();

        Tensor x = Backends.REFERENCE.upload(Shape.of(8, 1, SIZE, SIZE), Arrays.copyOf(data.images(data.statistics()), 8 * SIZE * SIZE));
        Tensor y = Backends.REFERENCE.uploadInts(Shape.of(8), Arrays.copyOf(data.labels(), 8));
        model.trainStep(x, y, new Sgd(0.1).weightDecay(0.5));
        assertArrayEquals(frozen, p.get(0).value().toFloatArray(), "multiplier 0 freezes the convolution");

        // The twin takes a plain step with lr 0.2 and no decay on the dense weights: it must land on the same values.
        twin.zeroGradients();
        twin.loss(twin.forward(x, org.cnn4j.layer.Pass.training(0)), y, true);
        twin.backward();
        Parameter dense = twin.parameters().get(2);
        double[] g = dense.gradient().toDoubleArray(), expected = new double[g.length];
        for (int i = 0; i < g.length; i++) expected[i] = denseBefore[i] - 0.2 * g[i];
        double[] actual = p.get(2).value().toDoubleArray();
        for (int i = 0; i < g.length; i++) assertEquals(expected[i], actual[i], 1e-12);
    }

    private static float[] flatten(List<Parameter> params) {
        int size = params.stream().mapToInt(p -> p.value().size()).sum();
        float[] all = new float[size];
        int at = 0;
        for (Parameter p : params) {
            float[] v = p.value().toFloatArray();
            System.arraycopy(v, 0, all, at, v.length);
            at += v.length;
        }
        return all;
    }
}
