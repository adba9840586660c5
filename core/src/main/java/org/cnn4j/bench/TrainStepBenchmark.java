package org.cnn4j.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.Devices;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.backend.cuda.CudaBackend;
import org.cnn4j.model.GraphedStep;
import org.cnn4j.model.Models;
import org.cnn4j.model.Graph;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;

/**
 * Times a built-in model's training step (forward, backward, SGD-momentum update) and inference
 * pass (forward and the predicted classes, which brings the result back to the host) on random
 * data, on one or more devices in the same run: warm-up steps first, then several timed windows,
 * and the median reported, with each device's speed over the first one's. One fixed-format line
 * per measurement; the FLOP count is 2 per multiply-accumulate of the forward pass, times 3 for a
 * training step (forward, backward-data, backward-filter).
 *
 * <p>The training step is the trainer's: a {@link GraphedStep}, replayed as a CUDA graph on a GPU,
 * which keeps its losses on the device; each timed window ends by reading them all back, so the
 * work is finished when the clock stops. It is timed twice: on a batch already on the device (the
 * step alone, as PyTorch's figures are usually given), and fed, each step's batch written from host
 * memory first (two batches in turn), as in training. Every inference pass reads its classes back.
 *
 * <p>Usage: {@code TrainStepBenchmark [model] [batch] [windows] [steps-per-window] [device...]},
 * by default {@code fmnist-cnn 256 5 5 cpu}; e.g. {@code vgg-small 128 5 10 cpu gpu}. Run
 * through benchmarks/train-step, or bin/cnn4j-train-step in the bundle.
 */
public final class TrainStepBenchmark {

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "fmnist-cnn";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int windows = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        List<String> devices = args.length > 4 ? Arrays.asList(args).subList(4, args.length) : List.of("cpu");
        List<Result> results = new ArrayList<>();
        for (String device : devices) {
            Backend opened;
            try {
                opened = Devices.open(Devices.Choice.parse(device), 0);
            } catch (IllegalArgumentException | IllegalStateException e) {
                System.err.println("train-step: " + e.getMessage());
                System.exit(1);
                return;
            }
            try (Backend backend = opened) {
                if (backend instanceof CpuBackend) System.out.println("cpu kernels: " + CpuBackend.kernels());
                Result r = measure(name, batch, windows, steps, backend);
                Result base = results.isEmpty() ? r : results.get(0);
                report(r, r.graphReplays() > 0 ? "train (graph)" : "train", r.trainSeconds(), r.macs() * 6, base.trainSeconds() / r.trainSeconds());
                report(r, "train (fed)", r.fedSeconds(), r.macs() * 6, base.fedSeconds() / r.fedSeconds());
                report(r, "infer", r.inferSeconds(), r.macs() * 2, base.inferSeconds() / r.inferSeconds());
                results.add(r);
            }
        }
    }

    /**
     * One model on one device: median seconds per training step (on a batch already on the device,
     * and fed a batch from the host each step) and per inference pass, forward
     * MACs per step, and the peak device memory from building the model through the timed training
     * steps (-1 where the backend does not track it: the CPU), and how many training steps
     * replayed a recorded graph (0 where the backend has none).
     */
    public record Result(String model, int batch, String device, double trainSeconds, double fedSeconds, double inferSeconds, double macs,
                         long peakBytes, long graphReplays) {
    }

    /** Builds the model on the backend and times its training step and inference pass. */
    public static Result measure(String name, int batch, int windows, int steps, Backend backend) {
        CudaBackend gpu = backend instanceof CudaBackend g ? g : null;
        if (gpu != null) gpu.resetPeakMemory();
        Graph model = Models.byName(name).seed(1).build(backend);
        Shape input = model.inputShape().batch(batch);
        Random rng = new Random(1);
        float[][] pixels = new float[2][input.size()];
        int[][] labels = new int[2][batch];
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < pixels[b].length; i++) pixels[b][i] = (float) rng.nextGaussian();
            for (int i = 0; i < batch; i++) labels[b][i] = rng.nextInt(model.outputShape().size());
        }
        Sgd sgd = new Sgd(0.01).momentum(0.9);
        double macs = (double) model.summary().multiplyAccumulates() * batch;
        double train, fed, infer;
        long peak, replays;
        try (GraphedStep step = new GraphedStep(model, sgd, batch, Math.max(3, steps))) {
            step.run(pixels[0], labels[0]);
            int[] next = {0};
            Runnable fedStep = () -> {
                int b = next[0]++ & 1;
                step.run(pixels[b], labels[b]);
            };
            // The two training modes take turns window by window, so that neither is timed less warm than the other.
            double[] both = medianSeconds(windows, steps, List.of(step::run, fedStep), step::results);
            train = both[0];
            fed = both[1];
            peak = gpu == null ? -1 : gpu.peakMemory();
            replays = step.replays();
            infer = medianSeconds(windows, steps, List.of(() -> model.predict(step.input())), () -> { })[0];
        }
        model.close();
        return new Result(name, batch, backend.name(), train, fed, infer, macs, peak, replays);
    }

    private static void report(Result r, String what, double seconds, double flops, double speedup) {
        System.out.printf(Locale.ROOT, "%-10s batch %4d  %-40s %-13s  %8.2f ms/step  %9.0f images/s  %7.1f GFLOP/s  %6.2fx%n",
                r.model(), r.batch(), r.device(), what, seconds * 1e3, r.batch() / seconds, flops / seconds / 1e9, speedup);
    }

    /**
     * For each kind of step, the median over windows of the mean time per step in a window, after a
     * warm-up window of each; the kinds take turns window by window. Each window ends with
     * {@code finish} (waiting for the work to be done), inside the clock.
     */
    private static double[] medianSeconds(int windows, int steps, List<Runnable> kinds, Runnable finish) {
        for (Runnable step : kinds) {
            for (int i = 0; i < Math.max(3, steps); i++) step.run();
            finish.run();
        }
        double[][] perStep = new double[kinds.size()][windows];
        for (int wdw = 0; wdw < windows; wdw++) {
            for (int k = 0; k < kinds.size(); k++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < steps; i++) kinds.get(k).run();
                finish.run();
                perStep[k][wdw] = (System.nanoTime() - t0) / 1e9 / steps;
            }
        }
        double[] medians = new double[kinds.size()];
        for (int k = 0; k < kinds.size(); k++) {
            Arrays.sort(perStep[k]);
            medians[k] = perStep[k][windows / 2];
        }
        return medians;
    }
}
