package org.cnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import org.cnn4j.data.Batch;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.DataLoader;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.ResizedCrop;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.io.ModelFile;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Adam;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The trainer: it learns, it is bitwise deterministic, a resumed run ends as an uninterrupted one, it stops on NaN. */
class TrainerTest {
    private static final int SIZE = 12, CLASSES = 4;
    private static final Dataset TRAIN = SyntheticShapes.generate(320, SIZE, CLASSES, 1), TEST = SyntheticShapes.generate(100, SIZE, CLASSES, 2);

    @TempDir
    Path dir;

    private static Graph model(long seed) {
        return Sequential.builder().input(1, SIZE, SIZE)
                .add(new Conv2d(1, 6, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Flatten()).add(new Dropout(0.1)).add(new Dense(6 * 5 * 5, CLASSES))
                .loss(new SoftmaxCrossEntropy()).seed(seed).build(Backends.CPU);
    }

    private static Optimizer optimizer(String kind) {
        return kind.equals("adam") ? new Adam(3e-3).weightDecay(1e-4) : new Sgd(0.05).momentum(0.9).nesterov(true).weightDecay(1e-4);
    }

    private static Trainer.Options options(int epochs) {
        return Trainer.Options.of(epochs, 32).schedule(new Schedule.Cosine()).seed(9).augment(1, true).resizedCrop(ResizedCrop.scale(0.5));
    }

    private static float[] weights(Model m) {
        List<float[]> all = new ArrayList<>();
        int size = 0;
        for (Parameter p : m.parameters()) {
            all.add(p.value().toFloatArray());
            size += p.value().size();
        }
        float[] flat = new float[size];
        int at = 0;
        for (float[] v : all) {
            System.arraycopy(v, 0, flat, at, v.length);
            at += v.length;
        }
        return flat;
    }

    /** Metrics without the wall-clock figures, which differ from run to run. */
    private static List<List<Double>> figures(List<EpochMetrics> history) {
        return history.stream().map(m -> List.of((double) m.epoch(), m.learningRate(), m.trainLoss(), m.trainAccuracy(), m.testLoss(), m.testAccuracy())).toList();
    }

    @Test
    void learnsTheGeneratedShapes() throws IOException {
        List<EpochMetrics> history = new Trainer(model(1), optimizer("sgd"), Trainer.Options.of(6, 32).seed(3)).fit(TRAIN, TEST);
        assertEquals(6, history.size());
        assertTrue(history.get(5).trainLoss() < 0.5 * history.get(0).trainLoss(), history.toString());
        assertTrue(history.get(5).testAccuracy() > 0.8, "test accuracy " + history.get(5).testAccuracy() + " (chance 0.25)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "adam"})
    void theSameSeedGivesBitwiseTheSameWeights(String kind) throws IOException {
        Trainer a = new Trainer(model(4), optimizer(kind), options(2)), b = new Trainer(model(4), optimizer(kind), options(2));
        List<EpochMetrics> ha = a.fit(TRAIN, TEST), hb = b.fit(TRAIN, TEST);
        assertArrayEquals(weights(a.model()), weights(b.model()));
        assertEquals(figures(ha), figures(hb));
        Trainer c = new Trainer(model(4), optimizer(kind), options(2).seed(10));
        c.fit(TRAIN, TEST);
        assertFalse(java.util.Arrays.equals(weights(a.model()), weights(c.model())), "another data seed, other weights");
    }

    /**
     * Scaled tanh, subsampling and sigmoid, trained twice in one JVM: the first run starts cold and
     * the second runs compiled code, and the weights must still be the same bits (the vector tanh
     * once took the JDK's vector library when compiled and Math.tanh before, and this failed).
     */
    @Test
    void aTanhAndSigmoidModelIsBitwiseReproducibleColdOrWarm() throws IOException {
        Supplier<Graph> lenet = () -> Sequential.builder().input(1, SIZE, SIZE)
                .add(new Conv2d(1, 4, 3).padding(1)).add(new org.cnn4j.layer.ScaledTanh()).add(new org.cnn4j.layer.Subsampling(2))
                .add(new org.cnn4j.layer.Sigmoid()).add(new Flatten()).add(new Dense(4 * 6 * 6, CLASSES))
                .loss(new SoftmaxCrossEntropy()).seed(2).build(Backends.CPU);
        Trainer a = new Trainer(lenet.get(), optimizer("sgd"), options(2)), b = new Trainer(lenet.get(), optimizer("sgd"), options(2));
        List<EpochMetrics> ha = a.fit(TRAIN, TEST), hb = b.fit(TRAIN, TEST);
        assertArrayEquals(weights(a.model()), weights(b.model()));
        assertEquals(figures(ha), figures(hb));
    }

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "adam"})
    void aResumedRunEndsAsTheUninterruptedOne(String kind) throws IOException {
        Trainer straight = new Trainer(model(5), optimizer(kind), options(3));
        List<EpochMetrics> expected = straight.fit(TRAIN, TEST);

        // The same run, "killed" after epoch 1: only its checkpoint survives.
        Path checkpoint = dir.resolve(kind + ".safetensors");
        Trainer first = new Trainer(model(5), optimizer(kind), options(3)).checkpointTo(checkpoint);
        first.listener(new TrainingListener() {
            @Override
            public void epochDone(EpochMetrics m, Evaluation test, Trainer t) {
                if (m.epoch() == 1) throw new IllegalStateException("killed");
            }
        });
        assertThrows(IllegalStateException.class, () -> first.fit(TRAIN, TEST));

        Trainer resumed = Trainer.resume(checkpoint, Backends.CPU).checkpointTo(checkpoint);
        assertEquals(1, resumed.history().size());
        assertEquals(ResizedCrop.scale(0.5), resumed.options().resizedCrop(), "the augmentation from the checkpoint");
        List<EpochMetrics> actual = resumed.fit(TRAIN, TEST);
        assertEquals(figures(expected), figures(actual));
        assertArrayEquals(weights(straight.model()), weights(resumed.model()));
        assertEquals(straight.optimizer().steps(), resumed.optimizer().steps());
        assertEquals(straight.model().step(), resumed.model().step());
        // The final checkpoint loads as a plain model too.
        assertArrayEquals(weights(straight.model()), weights(ModelFile.load(checkpoint, Backends.CPU).model()));
    }

    /** A run without a test set has no test figures (NaN, which JSON cannot hold): its checkpoint resumes all the same. */
    @Test
    void aCheckpointOfARunWithoutATestSetResumes() throws IOException {
        Path checkpoint = dir.resolve("no-test.safetensors");
        Trainer first = new Trainer(model(1), new Sgd(0.05), Trainer.Options.of(2, 32).seed(3)).checkpointTo(checkpoint);
        first.epochs(1).fit(TRAIN, null);
        Trainer resumed = Trainer.resume(checkpoint, Backends.CPU).epochs(2);
        assertEquals(1, resumed.history().size());
        assertTrue(Double.isNaN(resumed.history().get(0).testLoss()) && Double.isNaN(resumed.history().get(0).testAccuracy()));
        assertEquals(first.history().get(0).trainLoss(), resumed.history().get(0).trainLoss());
        assertEquals(2, resumed.fit(TRAIN, null).size());
    }

    /** An application's description of its run goes into every checkpoint and comes back with it, through a resume and the next checkpoint. */
    @Test
    void aCheckpointKeepsTheApplicationsMetadata() throws IOException {
        Path checkpoint = dir.resolve("metadata.safetensors");
        Trainer first = new Trainer(model(1), new Sgd(0.05), Trainer.Options.of(2, 32).seed(3)).checkpointTo(checkpoint)
                .checkpointMetadata("app.data", "{\"source\":\"/photos\"}");
        List<String> saved = new ArrayList<>();
        TrainingListener announced = new TrainingListener() {
            @Override
            public void checkpointSaved(Path file, int epochs) {
                saved.add(file.getFileName() + " " + epochs);
            }
        };
        first.listener(announced).epochs(1).fit(TRAIN, null);
        Trainer resumed = Trainer.resume(checkpoint, Backends.CPU).epochs(2).checkpointTo(checkpoint);
        assertEquals(Map.of("app.data", "{\"source\":\"/photos\"}"), resumed.checkpointMetadata());
        resumed.listener(announced).fit(TRAIN, null);
        assertEquals(List.of("metadata.safetensors 1", "metadata.safetensors 2"), saved, "each checkpoint announced with its epochs");
        assertEquals(Map.of("app.data", "{\"source\":\"/photos\"}"), Trainer.resume(checkpoint, Backends.CPU).checkpointMetadata());
        for (String own : List.of("cnn4j.training", "cnn4j.data", "cnn4j.architecture", "cnn4j.format")) {
            String m = assertThrows(IllegalArgumentException.class, () -> resumed.checkpointMetadata(own, "{}")).getMessage();
            assertTrue(m.contains("a key other than"), m);
        }
    }

    /** An empty test set is refused before any training, not after the first epoch. */
    @Test
    void anEmptyTestSetIsRefusedUpFront() {
        Trainer t = new Trainer(model(1), new Sgd(0.05), Trainer.Options.of(1, 32));
        String m = assertThrows(IllegalArgumentException.class, () -> t.fit(TRAIN, TEST.slice(0, 0))).getMessage();
        assertTrue(m.contains("holds no samples to evaluate on"), m);
        assertEquals(0, t.model().step(), "no step taken");
    }

    @Test
    void aModelFileIsNotACheckpoint() throws IOException {
        Path f = dir.resolve("model.safetensors");
        ModelFile.save(f, model(1), DataInfo.of(TRAIN));
        String m = assertThrows(FileFormatException.class, () -> Trainer.resume(f, Backends.CPU)).getMessage();
        assertTrue(m.contains("not a checkpoint"), m);
    }

    @Test
    void aDivergingRunStopsNamingTheFirstStepWithoutAFiniteLoss() {
        Trainer t = new Trainer(model(1), new Sgd(1e6).momentum(0.9), Trainer.Options.of(3, 32));
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class, () -> t.fit(TRAIN, TEST));
        assertTrue(e.getMessage().matches("training diverged: the loss is (NaN|Infinity) at step \\d+ \\(epoch 1, batch \\d+ of 10, .*"), e.getMessage());
        assertTrue(t.history().isEmpty());
        // The same run, one step at a time, reading every loss: its first bad step is the one named.
        Graph same = model(1);
        Sgd sgd = new Sgd(1e6).momentum(0.9);
        DataLoader loader = DataLoader.of(TRAIN, 32).shuffle(0).normalization(DataInfo.of(TRAIN).normalization());
        long firstBad = -1;
        try (DataLoader.Epoch epoch = loader.epoch(0); Tensor x = same.backend().allocate(same.inputShape().batch(32));
             Tensor y = same.backend().allocateInts(Shape.of(32))) {
            while (epoch.hasNext() && firstBad < 0) {
                Batch b = epoch.next();
                same.backend().write(x, b.x());
                same.backend().writeInts(y, b.y());
                if (!Double.isFinite(same.trainStep(x, y, sgd).loss())) firstBad = same.step() - 1;
            }
        }
        assertEquals(firstBad, e.step());
        assertTrue(e.getMessage().contains("at step " + firstBad + " (epoch 1, batch " + (firstBad + 1) + " of 10"), e.getMessage());
    }

    @Test
    void refusesDataThatDoesNotFitTheModel() {
        Trainer t = new Trainer(model(1), new Sgd(0.1), Trainer.Options.of(1, 32));
        Dataset other = SyntheticShapes.generate(10, 16, CLASSES, 1);
        String m = assertThrows(IllegalArgumentException.class, () -> t.fit(other, null)).getMessage();
        assertTrue(m.contains("has images of shape (1, 16, 16) but the model takes (1, 12, 12)"), m);
        Dataset six = SyntheticShapes.generate(10, SIZE, 6, 1);
        m = assertThrows(IllegalArgumentException.class, () -> new Trainer(model(1), new Sgd(0.1), Trainer.Options.of(1, 32)).fit(six, null)).getMessage();
        assertTrue(m.contains("has 6 classes but the model has 4 outputs"), m);
    }

    @Test
    void listenersSeeEveryStepAndEpoch() throws IOException {
        List<String> events = new ArrayList<>();
        new Trainer(model(1), new Sgd(0.05), Trainer.Options.of(2, 100)).listener(new TrainingListener() {
            @Override
            public void epochStarted(int epoch, int epochs, int batches) {
                events.add("start " + epoch + "/" + epochs + " " + batches);
            }

            @Override
            public void stepDone(Step s) {
                events.add("step " + s.epoch() + "." + s.batch() + " #" + s.step());
            }

            @Override
            public void epochDone(EpochMetrics m, Evaluation test, Trainer t) {
                events.add("done " + m.epoch() + (test == null ? " no test" : ""));
            }
        }).fit(TRAIN, null);
        assertEquals(List.of("start 1/2 4", "step 1.0 #1", "step 1.1 #2", "step 1.2 #3", "step 1.3 #4", "done 1 no test",
                "start 2/2 4", "step 2.0 #5", "step 2.1 #6", "step 2.2 #7", "step 2.3 #8", "done 2 no test"), events);
    }

    @Test
    void evaluationAgreesWithAPlainLoop() {
        Graph m = model(2);
        DataInfo info = DataInfo.of(TRAIN);
        Evaluation e = Trainer.evaluate(m, TEST, info, 33);
        int[] predicted = m.predict(Backends.CPU.upload(TEST.sampleShape().batch(TEST.size()), TEST.images(info.normalization())));
        long correct = 0;
        long[][] counts = new long[CLASSES][CLASSES];
        for (int i = 0; i < TEST.size(); i++) {
            counts[TEST.label(i)][predicted[i]]++;
            if (predicted[i] == TEST.label(i)) correct++;
        }
        assertEquals((double) correct / TEST.size(), e.accuracy(), 1e-12);
        for (int t = 0; t < CLASSES; t++) {
            long all = 0;
            for (int p = 0; p < CLASSES; p++) {
                assertEquals(counts[t][p], e.confusion().count(t, p));
                all += counts[t][p];
            }
            assertEquals((double) counts[t][t] / all, e.confusion().classAccuracy(t), 1e-12);
        }
        Graph.StepResult whole = m.evaluate(Backends.CPU.upload(TEST.sampleShape().batch(TEST.size()), TEST.images(info.normalization())),
                Backends.CPU.uploadInts(org.cnn4j.tensor.Shape.of(TEST.size()), TEST.labels()));
        assertEquals(whole.loss(), e.loss(), 1e-5, "mean over batches of unequal size is the mean over samples");
    }

    @Test
    void schedules() {
        assertEquals(0.1, new Schedule.Constant().rate(0.1, 7, 10));
        Schedule step = Schedule.parse("step:3:0.5");
        assertEquals(List.of(1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25), java.util.stream.IntStream.range(0, 7).mapToObj(e -> step.rate(1, e, 10)).toList());
        Schedule cos = Schedule.parse("cosine");
        assertEquals(1.0, cos.rate(1, 0, 4), 1e-15);
        assertEquals(0.5, cos.rate(1, 2, 4), 1e-15);
        assertEquals((1 + Math.cos(Math.PI * 3 / 4)) / 2, cos.rate(1, 3, 4), 1e-15);
        for (Schedule s : List.of(step, cos, new Schedule.Constant())) assertEquals(s, Schedule.parse(s.text()));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("linear"));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("step:x:0.1"));
    }

    @Test
    void theLoaderWaitIsPartOfEachEpoch() throws IOException {
        List<EpochMetrics> history = new Trainer(model(1), new Sgd(0.05), Trainer.Options.of(2, 64)).fit(TRAIN, TEST);
        assertEquals(2, history.size());
        for (EpochMetrics m : history) {
            assertTrue(m.loaderWaitSeconds() >= 0 && m.loaderWaitSeconds() <= m.seconds(), "the wait for data is a part of the epoch: " + m);
        }
    }
}
