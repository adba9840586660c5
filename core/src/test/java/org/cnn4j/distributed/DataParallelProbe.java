package org.cnn4j.distributed;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.backend.reference.ReferenceBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.layer.Parameter;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Models;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Run by {@link MpiTest} under {@code mpirun}: a model trained data-parallel for {@link #STEPS}
 * steps, each process on its {@link #LOCAL} samples of every global batch of LOCAL × size, the
 * gradients averaged over the processes; each rank writes its parameters after every step to
 * {@code args[0]}.rank. {@link #train} is also the single-process run the test compares with.
 *
 * <p>Two models: fmnist-cnn on the CPU backend in float32 (gradients in several buckets), and
 * resnet20 with its batch normalisations synchronised over the processes, on 8×8 images, on the
 * reference backend in float64. The ResNet runs in double because in float32 its training is
 * chaotic at the level of rounding: one process trained on the same batches with only the order of
 * the samples within each batch reversed drifts 4e-5 of the parameters' scale from itself after
 * two steps and 0.06 after twenty (ReLUs near zero flip), so a float32 comparison to 1e-5 would
 * say nothing about the data parallelism. In double the two runs agree to 1e-11 for twenty steps.
 */
public final class DataParallelProbe {
    static final int STEPS = 20, LOCAL = 32;

    /** The two models of the comparison. */
    enum Kind {
        FMNIST_CNN(28), RESNET20(8);

        final int size;

        Kind(int size) {
            this.size = size;
        }

        static Kind of(String name) {
            return name.equals("resnet20") ? RESNET20 : FMNIST_CNN;
        }
    }

    private DataParallelProbe() {
    }

    /** The generated 28×28 shapes of {@link #STEPS} global batches of {@link #LOCAL} × {@code processes}. */
    static Dataset data(int processes) {
        return data(STEPS * LOCAL * processes, 28);
    }

    private static Dataset data(int samples, int size) {
        return org.cnn4j.data.SyntheticShapes.generate(samples, size, 10, 5);
    }

    /**
     * Trains {@code kind} (seed 11, SGD with momentum and weight decay) on samples [step·batch +
     * first, step·batch + first + count) of each step's global batch; returns its parameters,
     * flat, after every step.
     */
    static List<float[]> train(Communicator communicator, Kind kind, int batch, int first, int count) {
        Dataset data = data(STEPS * batch, kind.size); // the same samples for every process and the single run
        float[] images = data.images(data.statistics());
        int[] labels = data.labels();
        int size = kind.size * kind.size;
        Backend backend = kind == Kind.RESNET20 ? new ReferenceBackend() : new CpuBackend(1);
        List<float[]> steps = new ArrayList<>();
        try (backend; Graph model = (kind == Kind.RESNET20 ? Models.resnet20(1, 8, 8, 10) : Models.fmnistCnn()).seed(11).build(backend)) {
            // gradients in buckets of 16 KiB (fmnist-cnn: three a step; resnet20: a layer or two each)
            model.averageGradientsOver(communicator, 16 << 10).synchroniseBatchNorms(communicator);
            Sgd sgd = new Sgd(0.05).momentum(0.9).weightDecay(1e-4);
            for (int step = 0; step < STEPS; step++) {
                int from = step * batch + first;
                try (Tensor x = backend.upload(Shape.of(count, 1, kind.size, kind.size), Arrays.copyOfRange(images, from * size, (from + count) * size));
                     Tensor y = backend.uploadInts(Shape.of(count), Arrays.copyOfRange(labels, from, from + count))) {
                    model.trainStep(x, y, sgd);
                }
                steps.add(flat(model));
            }
            return steps;
        }
    }

    /** {@code kind}'s parameters before training (seed 11), flat. */
    static float[] initial(Kind kind) {
        try (CpuBackend cpu = new CpuBackend(1); Graph model = (kind == Kind.RESNET20 ? Models.resnet20(1, 8, 8, 10) : Models.fmnistCnn()).seed(11)
                .build(cpu)) {
            return flat(model);
        }
    }

    static float[] flat(org.cnn4j.model.Model model) {
        int total = model.parameters().stream().mapToInt(p -> p.value().size()).sum(), at = 0;
        float[] flat = new float[total];
        for (Parameter p : model.parameters()) {
            float[] v = p.value().toFloatArray();
            System.arraycopy(v, 0, flat, at, v.length);
            at += v.length;
        }
        return flat;
    }

    /** Writes the parameters (big-endian floats) to {@code file}, one block after another. */
    static void write(Path file, List<float[]> parameters) throws IOException {
        try (DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(file)))) {
            for (float[] block : parameters) for (float v : block) out.writeFloat(v);
        }
    }

    /**
     * {@code args[0]} the output prefix; then "fmnist-cnn" or "resnet20": {@link #train}, each
     * process on its samples of every global batch; or "trainer": the {@link org.cnn4j.train.Trainer}'s
     * data-parallel fit of one epoch ({@link #fit}). Each rank writes its parameters to args[0].rank.
     */
    public static void main(String[] args) throws IOException {
        try (Mpi mpi = Mpi.start()) {
            List<float[]> parameters = args[1].equals("trainer") ? List.of(fit(mpi, Path.of(args[0]).resolveSibling("checkpoint.safetensors"), LOCAL))
                    : train(mpi, Kind.of(args[1]), LOCAL * mpi.size(), LOCAL * mpi.rank(), LOCAL);
            write(Path.of(args[0] + "." + mpi.rank()), parameters);
        }
    }

    /**
     * One epoch of {@link #data}(2) and a test set through {@link org.cnn4j.train.Trainer#distributed},
     * batches of {@code batch} per process, checkpoint to {@code checkpoint}; prints the epoch's
     * metrics; returns the parameters, flat.
     */
    static float[] fit(Communicator communicator, Path checkpoint, int batch) throws IOException {
        try (CpuBackend cpu = new CpuBackend(1); Graph model = Models.fmnistCnn().seed(11).build(cpu)) {
            org.cnn4j.train.Trainer trainer = new org.cnn4j.train.Trainer(model, new Sgd(0.05).momentum(0.9).weightDecay(1e-4),
                    org.cnn4j.train.Trainer.Options.of(1, batch).seed(7)).distributed(communicator).checkpointTo(checkpoint);
            org.cnn4j.train.EpochMetrics m = trainer.fit(data(2), org.cnn4j.data.SyntheticShapes.generate(200, 28, 10, 6)).getLast();
            System.out.println("rank " + communicator.rank() + " train loss " + m.trainLoss() + " accuracy " + m.trainAccuracy()
                    + " test accuracy " + m.testAccuracy());
            return flat(model);
        }
    }
}
