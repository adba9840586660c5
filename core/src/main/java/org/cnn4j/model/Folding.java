package org.cnn4j.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.BatchNorm;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.Tensor;

/**
 * Batch normalisation folded into the convolution or dense layer before it, for inference: with
 * s = γ/√(running_var + eps) per output channel, w' = w·s and b' = (b − running_mean)·s + β, so
 * that the layer alone computes what the pair did in inference (exactly, up to float rounding),
 * one pass and one tensor fewer. A pair is folded where the normalisation takes the layer's output
 * alone and is its only consumer; its consumers then take the layer. The folded model is for
 * inference: training it would normalise nothing.
 */
public final class Folding {
    private Folding() {
    }

    /** A new model on the same backend with every foldable batch normalisation folded; {@link Graph#foldings()} lists them. */
    public static Graph foldBatchNorms(Model model) {
        List<Layer> layers = model.layers();
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < layers.size(); i++) index.put(layers.get(i).name(), i);
        Map<String, String> foldedInto = new HashMap<>(); // normalisation → the layer it folds into
        for (int i = 0; i < layers.size(); i++) {
            if (!(layers.get(i) instanceof BatchNorm) || model.inputsOf(i).size() != 1) continue;
            String producer = model.inputsOf(i).get(0);
            Integer p = index.get(producer);
            if (p == null || !(layers.get(p) instanceof Conv2d || layers.get(p) instanceof Dense)) continue;
            if (model.consumersOf(producer) == 1) foldedInto.put(layers.get(i).name(), producer);
        }
        Graph.Builder b = Graph.builder().input(model.inputShape().dims()).loss(model.lossFunction().copy()).seed(model.seed());
        List<String> notes = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            if (foldedInto.containsKey(layer.name())) {
                notes.add(layer.name() + " into " + foldedInto.get(layer.name()));
                continue;
            }
            Layer copy = layer.copy();
            if (foldedInto.containsValue(layer.name())) {
                if (copy instanceof Conv2d conv) conv.bias(true);
                if (copy instanceof Dense dense) dense.bias(true);
            }
            String[] inputs = model.inputsOf(i).stream().map(n -> foldedInto.getOrDefault(n, n)).toArray(String[]::new);
            b.add(layer.name(), copy, inputs);
        }
        Graph folded = b.build(model.backend());
        Map<String, Layer> original = new HashMap<>();
        for (Layer layer : layers) original.put(layer.name(), layer);
        for (Layer layer : folded.layers()) copyValues(model.backend(), original.get(layer.name()), layer);
        for (Map.Entry<String, String> f : foldedInto.entrySet()) fold(model.backend(), original.get(f.getValue()), (BatchNorm) original.get(f.getKey()), node(folded, f.getValue()));
        folded.foldings(notes);
        return folded;
    }

    private static Layer node(Model g, String name) {
        return g.layers().stream().filter(l -> l.name().equals(name)).findFirst().orElseThrow();
    }

    /** Copies a layer's parameter values and state into its copy (a bias the original lacks stays zero). */
    private static void copyValues(Backend b, Layer from, Layer to) {
        Map<String, Tensor> values = new HashMap<>();
        for (Parameter p : from.parameters()) values.put(p.name(), p.value());
        for (Layer.State s : from.state()) values.put(s.name(), s.value());
        for (Parameter p : to.parameters()) {
            Tensor v = values.get(p.name());
            if (v != null) b.write(p.value(), v.toDoubleArray());
            else b.fill(p.value(), 0);
        }
        for (Layer.State s : to.state()) b.write(s.value(), values.get(s.name()).toDoubleArray());
    }

    /** w' = w·s and b' = (b − μ)·s + β per output channel, s = γ/√(σ² + eps), in double. */
    private static void fold(Backend b, Layer layer, BatchNorm norm, Layer into) {
        double[] gamma = norm.parameters().get(0).value().toDoubleArray(), beta = norm.parameters().get(1).value().toDoubleArray();
        double[] mean = norm.state().get(0).value().toDoubleArray(), var = norm.state().get(1).value().toDoubleArray();
        double[] w = layer.parameters().get(0).value().toDoubleArray();
        double[] bias = layer.parameters().size() > 1 ? layer.parameters().get(1).value().toDoubleArray() : new double[gamma.length];
        int per = w.length / gamma.length; // weights per output channel: c·r·s, or in
        double[] newBias = new double[gamma.length];
        for (int k = 0; k < gamma.length; k++) {
            double s = gamma[k] / Math.sqrt(var[k] + norm.eps());
            for (int i = k * per; i < (k + 1) * per; i++) w[i] *= s;
            newBias[k] = (bias[k] - mean[k]) * s + beta[k];
        }
        b.write(into.parameters().get(0).value(), w);
        b.write(into.parameters().get(1).value(), newBias);
    }
}
