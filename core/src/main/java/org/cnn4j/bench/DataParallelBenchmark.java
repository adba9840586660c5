package org.cnn4j.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.distributed.Communicator;
import org.cnn4j.distributed.Mpi;
import org.cnn4j.model.Graph;
import org.cnn4j.model.GraphedStep;
import org.cnn4j.model.Models;
import org.cnn4j.optim.Sgd;

/**
 * Data-parallel training throughput on the CPU: a job's training steps on random data, each
 * process on its slice of every global batch, the gradients averaged over the processes through
 * MPI, as images per second of the whole job; alone (a job of one) or under mpirun. After
 * {@value #WARM_UP_WINDOWS} warm-up windows, each window of steps starts at a barrier and ends when the step log has been
 * read; the median window is reported by rank 0, as a line of text and a CSV row
 * ({@code data-parallel,cnn4j,model,global batch,processes,threads,ms per step,images per second}).
 * benchmarks/data-parallel runs it beside PyTorch's DistributedDataParallel.
 *
 * <p>Arguments: model, global batch, windows, steps per window, CPU threads per process.
 */
public final class DataParallelBenchmark {
    /**
     * Warm-up windows before the timed ones: the JIT compiles the kernels' vector loops during the
     * first few hundred milliseconds, and a process with one core does it on that core, so a short
     * warm-up times the compiler rather than the training.
     */
    static final int WARM_UP_WINDOWS = 5;

    private DataParallelBenchmark() {
    }

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "fmnist-cnn";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int windows = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        int threads = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        try (Communicator job = Mpi.launched() ? Mpi.start() : Communicator.single(); CpuBackend cpu = new CpuBackend(threads);
             Graph model = Models.byName(name).seed(1).build(cpu)) {
            if (batch % job.size() != 0) throw new IllegalArgumentException("a global batch of " + batch + " does not split over " + job.size() + " processes");
            int local = batch / job.size();
            if (job.size() > 1) model.averageGradientsOver(job);
            Random rng = new Random(1 + job.rank());
            float[] pixels = new float[model.inputShape().batch(local).size()];
            int[] labels = new int[local];
            for (int i = 0; i < pixels.length; i++) pixels[i] = (float) rng.nextGaussian();
            for (int i = 0; i < local; i++) labels[i] = rng.nextInt(model.outputShape().size());
            double[] seconds = new double[windows];
            try (GraphedStep step = new GraphedStep(model, new Sgd(0.01).momentum(0.9), local, Math.max(3, steps))) {
                if (steps < 1 || windows < 1) throw new IllegalArgumentException("windows and steps must be >= 1");
                for (int i = 0; i < WARM_UP_WINDOWS * steps; i++) step.run(pixels, labels);
                step.results();
                for (int w = 0; w < windows; w++) {
                    job.barrier();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < steps; i++) step.run(pixels, labels);
                    step.results();
                    seconds[w] = (System.nanoTime() - t0) / 1e9 / steps;
                }
            }
            Arrays.sort(seconds);
            double median = seconds[windows / 2];
            if (job.rank() == 0) {
                System.out.printf(Locale.ROOT, "%-10s batch %4d = %d x %-4d %d process(es) x %d thread(s): %8.2f ms/step %8.0f images/s%n", name, batch,
                        job.size(), local, job.size(), threads, median * 1e3, batch / median);
                System.out.printf(Locale.ROOT, "data-parallel,cnn4j,%s,%d,%d,%d,%.3f,%.1f%n", name, batch, job.size(), threads, median * 1e3, batch / median);
            }
        }
    }
}
