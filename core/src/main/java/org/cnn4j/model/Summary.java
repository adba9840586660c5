package org.cnn4j.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.cnn4j.layer.Layer;
import org.cnn4j.layer.LayerCost;

/**
 * What a model costs per sample, node by node (as in exercise 5-4 of Qiu's <i>Neural Networks and Deep Learning</i>): output shape,
 * parameters, multiply-accumulates of the forward pass, and the float32 bytes of each output.
 * Multiply by the batch size for a batch (a training step costs about three forward passes).
 */
public record Summary(List<Row> rows, List<String> foldings) {

    public record Row(String name, String description, LayerCost cost) {
    }

    /** A row per node; a node that does not take the one before it names its inputs after its kind ("Add ← conv2, shortcut"). */
    static Summary of(Model model) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < model.layers().size(); i++) {
            Layer layer = model.layers().get(i);
            String inputs = model.isChained(i) ? "" : " ← " + String.join(", ", model.inputsOf(i));
            rows.add(new Row(layer.name(), layer.describe() + inputs, layer.cost()));
        }
        return new Summary(List.copyOf(rows), model.foldings());
    }

    public long parameters() {
        return rows.stream().mapToLong(r -> r.cost().parameters()).sum();
    }

    public long multiplyAccumulates() {
        return rows.stream().mapToLong(r -> r.cost().multiplyAccumulates()).sum();
    }

    /** Output values of all layers together (the activations a training step keeps). */
    public long outputValues() {
        return rows.stream().mapToLong(r -> r.cost().outputValues()).sum();
    }

    public long activationBytes() {
        return rows.stream().mapToLong(r -> r.cost().activationBytes()).sum();
    }

    /** A table, one line per layer and a total line, its columns as wide as their widest entry. */
    @Override
    public String toString() {
        int name = Math.max(22, rows.stream().mapToInt(r -> r.name().length()).max().orElse(0));
        int type = Math.max(34, rows.stream().mapToInt(r -> r.description().length()).max().orElse(0));
        int output = Math.max(18, rows.stream().mapToInt(r -> r.cost().outputShape().toString().length()).max().orElse(0));
        String format = "%-" + name + "s %-" + type + "s %-" + output + "s %12s %16s %12s%n";
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, format, "layer", "type", "output", "params", "MACs", "activations"));
        for (Row r : rows) {
            LayerCost c = r.cost();
            sb.append(String.format(Locale.ROOT, format, r.name(), r.description(), c.outputShape(),
                    String.format(Locale.ROOT, "%,d", c.parameters()), String.format(Locale.ROOT, "%,d", c.multiplyAccumulates()),
                    bytes(c.activationBytes())));
        }
        sb.append(String.format(Locale.ROOT, format, "total", "(per sample)", "",
                String.format(Locale.ROOT, "%,d", parameters()), String.format(Locale.ROOT, "%,d", multiplyAccumulates()),
                bytes(activationBytes())));
        if (!foldings.isEmpty()) sb.append("batch normalisations folded for inference: ").append(String.join(", ", foldings)).append(System.lineSeparator());
        return sb.toString();
    }

    private static String bytes(long b) {
        if (b < 1024) return b + " B";
        if (b < 1024 * 1024) return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
        return String.format(Locale.ROOT, "%.1f MiB", b / (1024.0 * 1024));
    }
}
