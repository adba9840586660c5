package org.cnn4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.train.Trainer;
import org.junit.jupiter.api.Test;

/**
 * The trainer's data-parallel run with batch normalisation, its replicas threads of this JVM
 * ({@link ThreadJob}): with {@link Trainer#synchronisedBatchNorm} the two replicas, each on
 * batches of 16, train as one process on batches of 32 (parameters and running statistics, to
 * 1e-5 of their scale); by default each normalises by its own half-batch, and they do not.
 */
class DistributedTrainerTest {
    private static final Dataset DATA = SyntheticShapes.generate(128, 28, 10, 21);

    /** Parameters, then running statistics, flat, after one epoch in batches of {@code batch}. */
    private static float[] fit(Communicator job, int batch, boolean synchronised) {
        try (CpuBackend cpu = new CpuBackend(1);
             Graph model = Sequential.builder().input(1, 28, 28).add(new Conv2d(1, 6, 3).stride(2)).add(new BatchNorm2d(6)).add(new ReLU())
                     .add(new MaxPool2d(2)).add(new Flatten()).add(new Dense(6 * 6 * 6, 10)).loss(new SoftmaxCrossEntropy()).seed(4).build(cpu)) {
            Trainer trainer = new Trainer(model, new Sgd(0.1).momentum(0.9), Trainer.Options.of(1, batch).seed(3));
            if (job.size() > 1) trainer.distributed(job).synchronisedBatchNorm(synchronised);
            trainer.fit(DATA, null);
            float[] parameters = DataParallelProbe.flat(model);
            List<Layer.State> state = model.state();
            int total = parameters.length + state.stream().mapToInt(s -> s.value().size()).sum(), at = parameters.length;
            float[] all = java.util.Arrays.copyOf(parameters, total);
            for (Layer.State s : state) {
                float[] v = s.value().toFloatArray();
                System.arraycopy(v, 0, all, at, v.length);
                at += v.length;
            }
            return all;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static double worst(float[] expected, float[] actual) {
        double scale = 0, worst = 0;
        for (float v : expected) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        return worst / scale;
    }

    /**
     * Dropout in data-parallel training: replica r's batch starts at sample r·16 of the job's 32,
     * so the two replicas, each on its half of every batch, draw the masks one process draws for
     * the whole batch, and train as it does (had both drawn the same masks, they would not).
     */
    @Test
    void theReplicasDrawTheDropoutMasksOfOneProcessOnTheJointBatch() throws Exception {
        float[] images = DATA.images(DATA.statistics());
        java.util.function.BiFunction<Communicator, int[], float[]> train = (job, slice) -> {
            try (CpuBackend cpu = new CpuBackend(1);
                 Graph model = Sequential.builder().input(1, 28, 28).add(new Conv2d(1, 4, 3).stride(2)).add(new ReLU()).add(new Flatten())
                         .add(new org.cnn4j.layer.Dropout(0.5)).add(new Dense(4 * 13 * 13, 10)).loss(new SoftmaxCrossEntropy()).seed(4).build(cpu)) {
                model.averageGradientsOver(job);
                Sgd sgd = new Sgd(0.1);
                for (int step = 0; step < 4; step++) {
                    int from = step * 32 + slice[0];
                    try (org.cnn4j.tensor.Tensor x = cpu.upload(org.cnn4j.tensor.Shape.of(slice[1], 1, 28, 28),
                            java.util.Arrays.copyOfRange(images, from * 784, (from + slice[1]) * 784));
                         org.cnn4j.tensor.Tensor y = cpu.uploadInts(org.cnn4j.tensor.Shape.of(slice[1]),
                                 java.util.Arrays.copyOfRange(DATA.labels(), from, from + slice[1]))) {
                        model.trainStep(x, y, sgd);
                    }
                }
                return DataParallelProbe.flat(model);
            }
        };
        float[] single = train.apply(Communicator.single(), new int[] {0, 32});
        List<float[]> replicas = ThreadJob.run(2, job -> train.apply(job, new int[] {16 * job.rank(), 16}));
        assertArrayEquals(replicas.get(0), replicas.get(1));
        assertTrue(worst(single, replicas.get(0)) <= 1e-5, "with dropout: " + worst(single, replicas.get(0)) + " of the scale");
    }

    @Test
    void synchronisedBatchNormTrainsTheReplicasAsOneProcess() throws Exception {
        float[] single = fit(Communicator.single(), 32, false);
        List<float[]> synced = ThreadJob.run(2, job -> fit(job, 16, true));
        assertArrayEquals(synced.get(0), synced.get(1), "the replicas agree bit for bit");
        assertTrue(worst(single, synced.get(0)) <= 1e-5, "synchronised: " + worst(single, synced.get(0)) + " of the scale");
        List<float[]> own = ThreadJob.run(2, job -> fit(job, 16, false));
        assertTrue(worst(single, own.get(0)) > 1e-4, "each replica's own statistics differ from the joint batch's: " + worst(single, own.get(0)));
    }
}
