package org.cnn4j.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Pass;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.Tensor;

/**
 * Forward and backward time of each node of a model on its backend, on random data: one forward
 * pass records every node's inputs, then each layer's forward and backward (on a random gradient)
 * are timed on their own, warm-up first (see {@link #WARM_UP_CALLS}), median of several windows, the backend synchronised
 * around each window so GPU work is counted in full.
 */
public final class LayerTimes {
    /** Median milliseconds of one layer's forward and backward pass at the given batch. */
    public record Timing(String layer, String description, double forwardMs, double backwardMs) {
        public double totalMs() {
            return forwardMs + backwardMs;
        }
    }

    /**
     * Warm-up of each pass of each layer, all before any is timed: at least {@value #WARM_UP_CALLS}
     * calls and {@value #WARM_UP_SECONDS} s (at most {@value #WARM_UP_MAX_CALLS} calls). The JIT
     * compiles the CPU kernels in that time, and recompiles one when a layer of another shape first
     * calls it: measured on vgg-small (batch 64, 2 threads), pool2's forward took 125 and 82 ms on its
     * 5th and 6th calls, after pool1's, against 2 ms from then on; with each layer warmed up just
     * before its own timing, such calls fell in the timed windows (pool2's forward read 20-98 ms).
     */
    private static final int WARM_UP_CALLS = 5, WARM_UP_MAX_CALLS = 50;
    private static final double WARM_UP_SECONDS = 0.2;

    private LayerTimes() {
    }

    public static List<Timing> measure(Model model, int batch, int windows, int repeats) {
        Backend b = model.backend();
        Random rng = new Random(1);
        Tensor x = b.upload(model.inputShape().batch(batch), gaussian(rng, model.inputShape().size() * batch));
        // One pass through the graph records each node's inputs (earlier nodes' outputs, or x).
        Map<String, Tensor> outputs = new HashMap<>(Map.of(Model.INPUT, x));
        List<List<Tensor>> inputs = new ArrayList<>();
        Pass pass = Pass.training(0);
        for (int i = 0; i < model.layers().size(); i++) {
            Layer layer = model.layers().get(i);
            List<Tensor> in = model.inputsOf(i).stream().map(outputs::get).toList();
            inputs.add(in);
            outputs.put(layer.name(), layer.forward(in, pass));
        }
        List<Tensor> grads = new ArrayList<>();
        List<Runnable> forwards = new ArrayList<>(), backwards = new ArrayList<>();
        for (int i = 0; i < model.layers().size(); i++) {
            Layer layer = model.layers().get(i);
            List<Tensor> in = inputs.get(i);
            Tensor dy = b.upload(layer.outputShape().batch(batch), gaussian(rng, layer.outputShape().size() * batch));
            grads.add(dy);
            forwards.add(() -> layer.forward(in, pass));
            backwards.add(() -> layer.backwardAll(dy));
        }
        // Every layer's passes run before any is timed, so that the JIT has met every shape (see WARM_UP_CALLS).
        for (int i = 0; i < forwards.size(); i++) {
            warmUp(b, repeats, forwards.get(i));
            warmUp(b, repeats, backwards.get(i));
        }
        List<Timing> timings = new ArrayList<>();
        for (int i = 0; i < model.layers().size(); i++) {
            Layer layer = model.layers().get(i);
            double forward = median(b, windows, repeats, forwards.get(i));
            double backward = median(b, windows, repeats, backwards.get(i));
            timings.add(new Timing(layer.name(), layer.describe(), forward * 1e3, backward * 1e3));
        }
        grads.forEach(Tensor::close);
        x.close();
        return timings;
    }

    private static float[] gaussian(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rng.nextGaussian();
        return v;
    }

    private static void warmUp(Backend b, int repeats, Runnable op) {
        long start = System.nanoTime();
        for (int i = 0; i < WARM_UP_MAX_CALLS && (i < Math.max(WARM_UP_CALLS, repeats) || System.nanoTime() - start < WARM_UP_SECONDS * 1e9); i++) {
            op.run();
        }
        b.synchronize();
    }

    /** The median over windows of the mean time per call in a window, after two calls more to warm the caches. */
    private static double median(Backend b, int windows, int repeats, Runnable op) {
        op.run();
        op.run();
        double[] times = new double[windows];
        for (int w = 0; w < windows; w++) {
            b.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < repeats; i++) op.run();
            b.synchronize();
            times[w] = (System.nanoTime() - t0) / 1e9 / repeats;
        }
        Arrays.sort(times);
        return times[windows / 2];
    }
}
