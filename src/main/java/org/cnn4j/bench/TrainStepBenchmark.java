package org.cnn4j.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.layer.Pass;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Times a built-in model's training step (forward, backward, SGD-momentum update) and inference
 * pass on the CPU backend, on random data: warm-up steps first, then several timed windows, and
 * the median reported. One fixed-format line per measurement; the FLOP count is 2 per
 * multiply-accumulate of the forward pass, times 3 for a training step (forward, backward-data,
 * backward-filter).
 *
 * <p>Usage: {@code TrainStepBenchmark [model] [batch] [windows] [steps-per-window]}, by default
 * {@code fmnist-cnn 256 5 5}. Run through benchmarks/train-step.
 */
public final class TrainStepBenchmark {

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "fmnist-cnn";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int windows = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        try (Backend backend = new CpuBackend()) {
            Sequential model = Models.byName(name).seed(1).build(backend);
            Shape input = model.inputShape().batch(batch);
            Random rng = new Random(1);
            float[] pixels = new float[input.size()];
            for (int i = 0; i < pixels.length; i++) pixels[i] = (float) rng.nextGaussian();
            int[] labels = new int[batch];
            for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(model.outputShape().size());
            Tensor x = backend.upload(input, pixels), y = backend.uploadInts(Shape.of(batch), labels);
            Sgd sgd = new Sgd(0.01).momentum(0.9);
            long macs = model.summary().multiplyAccumulates() * batch;

            double train = medianSeconds(windows, steps, () -> model.trainStep(x, y, sgd));
            double infer = medianSeconds(windows, steps, () -> model.forward(x, Pass.INFERENCE));
            report(name, batch, backend, "train", train, 6.0 * macs);
            report(name, batch, backend, "infer", infer, 2.0 * macs);
        }
    }

    private static void report(String model, int batch, Backend backend, String what, double seconds, double flops) {
        System.out.printf(Locale.ROOT, "%-10s batch %4d  %-16s %s  %8.2f ms/step  %9.0f images/s  %6.1f GFLOP/s%n",
                model, batch, backend.name(), what, seconds * 1e3, batch / seconds, flops / seconds / 1e9);
    }

    /** Median over windows of the mean time per step in each window, after one warm-up window. */
    private static double medianSeconds(int windows, int steps, Runnable step) {
        for (int i = 0; i < Math.max(3, steps); i++) step.run();
        double[] perStep = new double[windows];
        for (int wdw = 0; wdw < windows; wdw++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) step.run();
            perStep[wdw] = (System.nanoTime() - t0) / 1e9 / steps;
        }
        Arrays.sort(perStep);
        return perStep[windows / 2];
    }
}
