package org.cnn4j.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Pass;
import org.cnn4j.model.Sequential;
import org.cnn4j.tensor.Tensor;

/**
 * Forward and backward time of each layer of a model on its backend, on random data: one forward
 * pass records every layer's input, then each layer's forward and backward (on a random gradient)
 * are timed on their own, warm-up first, median of several windows, the backend synchronised
 * around each window so GPU work is counted in full.
 */
public final class LayerTimes {
    /** Median milliseconds of one layer's forward and backward pass at the given batch. */
    public record Timing(String layer, String description, double forwardMs, double backwardMs) {
        public double totalMs() {
            return forwardMs + backwardMs;
        }
    }

    private LayerTimes() {
    }

    public static List<Timing> measure(Sequential model, int batch, int windows, int repeats) {
        Backend b = model.backend();
        Random rng = new Random(1);
        Tensor x = b.upload(model.inputShape().batch(batch), gaussian(rng, model.inputShape().size() * batch));
        List<Tensor> inputs = new ArrayList<>();
        Tensor t = x;
        Pass pass = Pass.training(0);
        for (Layer layer : model.layers()) {
            inputs.add(t);
            t = layer.forward(t, pass);
        }
        List<Timing> timings = new ArrayList<>();
        for (int i = 0; i < model.layers().size(); i++) {
            Layer layer = model.layers().get(i);
            Tensor in = inputs.get(i);
            Tensor dy = b.upload(layer.outputShape().batch(batch), gaussian(rng, layer.outputShape().size() * batch));
            double forward = median(b, windows, repeats, () -> layer.forward(in, pass));
            double backward = median(b, windows, repeats, () -> layer.backward(dy));
            timings.add(new Timing(layer.name(), layer.describe(), forward * 1e3, backward * 1e3));
            dy.close();
        }
        x.close();
        return timings;
    }

    private static float[] gaussian(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rng.nextGaussian();
        return v;
    }

    private static double median(Backend b, int windows, int repeats, Runnable op) {
        for (int i = 0; i < Math.max(2, repeats); i++) op.run();
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
