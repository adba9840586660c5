package org.cnn4j.distributed;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.Dataset;
import org.cnn4j.layer.Parameter;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Models;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Run by {@link MpiTest} under {@code mpirun}: fmnist-cnn trained data-parallel for {@link #STEPS}
 * steps, each process on its {@link #LOCAL} samples of every global batch of LOCAL × size, the
 * gradients averaged over the processes in several buckets; each rank writes its parameters to {@code args[0]}.rank.
 * {@link #train} is also the single-process run the test compares with.
 */
public final class DataParallelProbe {
    static final int STEPS = 20, LOCAL = 32;

    private DataParallelProbe() {
    }

    /** The generated shapes every process (and the single-process run) trains on, in order. */
    static Dataset data(int processes) {
        return org.cnn4j.data.SyntheticShapes.generate(STEPS * LOCAL * processes, 28, 10, 5);
    }

    /**
     * Trains fmnist-cnn (seed 11, SGD with momentum and weight decay) on samples [step·batch + first,
     * step·batch + first + count) of each step's global batch; returns its parameters, flat.
     */
    static float[] train(Communicator communicator, Dataset data, int batch, int first, int count) {
        return train(communicator, data, batch, first, count, false, STEPS);
    }

    /**
     * {@link #train} of fmnist-cnn, or with {@code resnet} of resnet20 (its batch normalisations
     * synchronised over the processes, as one process's batch would normalise), {@code steps} steps.
     */
    static float[] train(Communicator communicator, Dataset data, int batch, int first, int count, boolean resnet, int steps) {
        float[] images = data.images(data.statistics());
        int[] labels = data.labels();
        int size = 28 * 28;
        try (CpuBackend cpu = new CpuBackend(1); Graph model = (resnet ? Models.resnet20(1, 28, 28, 10) : Models.fmnistCnn()).seed(11).build(cpu)) {
            // fmnist-cnn's gradients in buckets of 16 KiB (several a step), resnet20's in one
            model.averageGradientsOver(communicator, resnet ? Long.MAX_VALUE : 16 << 10).synchroniseBatchNorms(communicator);
            Sgd sgd = new Sgd(0.05).momentum(0.9).weightDecay(1e-4);
            for (int step = 0; step < steps; step++) {
                int from = step * batch + first;
                try (Tensor x = cpu.upload(Shape.of(count, 1, 28, 28), Arrays.copyOfRange(images, from * size, (from + count) * size));
                     Tensor y = cpu.uploadInts(Shape.of(count), Arrays.copyOfRange(labels, from, from + count))) {
                    model.trainStep(x, y, sgd);
                }
            }
            return flat(model);
        }
    }

    /** fmnist-cnn's parameters before training (seed 11), flat. */
    static float[] initial() {
        try (CpuBackend cpu = new CpuBackend(1); Graph model = Models.fmnistCnn().seed(11).build(cpu)) {
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

    /** Writes the parameters (big-endian floats) to {@code file}. */
    static void write(Path file, float[] parameters) throws IOException {
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            for (float v : parameters) out.writeFloat(v);
        }
    }

    /**
     * With {@code args[0]} alone: {@link #train}, each process on its samples of every global batch
     * (with "resnet20" after it, that model with synchronised batch normalisation, for args[2] steps);
     * with "trainer" after it: the {@link org.cnn4j.train.Trainer}'s data-parallel fit of one epoch
     * ({@link #fit}). Each rank writes its parameters to args[0].rank.
     */
    public static void main(String[] args) throws IOException {
        try (Mpi mpi = Mpi.start()) {
            float[] parameters = args.length > 1 && args[1].equals("trainer") ? fit(mpi, Path.of(args[0]).resolveSibling("checkpoint.safetensors"), LOCAL)
                    : train(mpi, data(mpi.size()), LOCAL * mpi.size(), LOCAL * mpi.rank(), LOCAL, args.length > 1 && args[1].equals("resnet20"),
                    args.length > 2 ? Integer.parseInt(args[2]) : STEPS);
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
