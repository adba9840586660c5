package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.distributed.Communicator;
import org.cnn4j.distributed.ThreadJob;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.GraphedStep;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.junit.jupiter.api.Test;

/**
 * Data-parallel training on GPUs joined by NCCL, with emulated GPUs and NCCL ({@link EmulatedGpu},
 * {@link EmulatedNccl}): two replicas, each a thread with its own device and half of every batch,
 * their gradients averaged in buckets by {@link NcclCommunicator} as the backward pass goes on,
 * the whole step (reductions included) recorded once as a graph and replayed. Both replicas end
 * with the same parameters, bit for bit, and those of one device trained on the whole batches.
 */
class EmulatedDataParallelTest {
    private static final int SIZE = 12, CLASSES = 4, GLOBAL = 8, STEPS = 5;

    private static Graph model(Backend backend) {
        return Sequential.builder().input(1, SIZE, SIZE).add("conv", new Conv2d(1, 5, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Flatten()).add("fc1", new Dense(5 * 5 * 5, 16)).add(new ReLU()).add("fc2", new Dense(16, CLASSES))
                .loss(new SoftmaxCrossEntropy()).seed(3).build(backend);
    }

    /** Every step's pixels and labels, the same for every rank. */
    private static final float[][] PIXELS = new float[STEPS][GLOBAL * SIZE * SIZE];
    private static final int[][] LABELS = new int[STEPS][GLOBAL];

    static {
        Random rng = new Random(12);
        for (int s = 0; s < STEPS; s++) {
            for (int i = 0; i < PIXELS[s].length; i++) PIXELS[s][i] = (float) rng.nextGaussian();
            for (int i = 0; i < GLOBAL; i++) LABELS[s][i] = rng.nextInt(CLASSES);
        }
    }

    /** A replica's run: samples [first, first + count) of each global batch; returns its parameters, flat, and what its device last recorded. */
    private record Run(float[] parameters, long replays, List<String> recording) {
    }

    private static Run train(Communicator job, int first, int count, long bucketBytes) {
        EmulatedGpu device = new EmulatedGpu(1L << 28);
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults().strictFloat32(), device, device::dnn, device::blas);
             Graph model = model(gpu);
             NcclCommunicator nccl = new NcclCommunicator(gpu, job, () -> new EmulatedNccl(device), bucketBytes)) {
            model.averageGradientsOver(nccl);
            Sgd sgd = new Sgd(0.1).momentum(0.9);
            long replays;
            try (GraphedStep step = new GraphedStep(model, sgd, count, STEPS)) {
                for (int s = 0; s < STEPS; s++) {
                    step.run(Arrays.copyOfRange(PIXELS[s], first * SIZE * SIZE, (first + count) * SIZE * SIZE),
                            Arrays.copyOfRange(LABELS[s], first, first + count));
                }
                step.results();
                replays = step.replays();
            }
            return new Run(flat(model), replays, device.lastRecording());
        }
    }

    @Test
    void twoGpusJoinedByNcclTrainAsOneOnTheirJointBatch() throws Exception {
        // A bucket per layer with parameters: fc2's goes out before fc1's backward pass is issued.
        List<Run> replicas = ThreadJob.run(2, job -> train(job, GLOBAL / 2 * job.rank(), GLOBAL / 2, 1));
        Run single = train(Communicator.single(), 0, GLOBAL, NcclCommunicator.DEFAULT_BUCKET_BYTES);
        assertArrayEquals(replicas.get(0).parameters(), replicas.get(1).parameters(), "the replicas agree bit for bit");
        assertEquals(STEPS - 1, replicas.get(0).replays(), "every step after the first replays, the reductions recorded with it");

        List<String> recording = replicas.get(0).recording();
        assertEquals(3, recording.stream().filter("ncclAllReduce"::equals).count(), "three buckets: " + recording);
        int firstReduction = recording.indexOf("ncclAllReduce"), lastGemm = recording.lastIndexOf("cublasSgemm");
        assertTrue(firstReduction < lastGemm && recording.lastIndexOf("ncclAllReduce") > recording.indexOf("cudnn convolutionBackwardFilter"),
                "reductions interleaved with the backward pass: " + recording);

        float[] expected = single.parameters(), actual = replicas.get(0).parameters();
        double scale = 0, worst = 0;
        for (float v : expected) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        // The two differ only in the order of float sums over the batch (4 + 4 samples against 8).
        assertTrue(worst <= 1e-5 * scale, "largest difference " + worst + " against the parameters' scale " + scale);
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1); Graph initial = model(cpu)) {
            float[] before = flat(initial);
            double moved = 0;
            for (int i = 0; i < before.length; i++) moved = Math.max(moved, Math.abs(before[i] - expected[i]));
            assertTrue(moved > 1e-3, "training moved the parameters (by " + moved + ")");
        }
    }

    private static float[] flat(Graph model) {
        int total = model.parameters().stream().mapToInt(p -> p.value().size()).sum(), at = 0;
        float[] flat = new float[total];
        for (Parameter p : model.parameters()) {
            float[] v = p.value().toFloatArray();
            System.arraycopy(v, 0, flat, at, v.length);
            at += v.length;
        }
        return flat;
    }
}
