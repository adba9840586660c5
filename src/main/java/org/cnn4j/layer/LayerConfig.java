package org.cnn4j.layer;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.io.Settings;

/**
 * A layer's kind and settings as plain values (integers, numbers, booleans, strings and int
 * arrays): what a model file stores to rebuild the layer, and the one place that turns a kind's
 * name back into a layer. Reading checks every value ({@link Settings}).
 */
public record LayerConfig(String type, Map<String, Object> settings) {
    static final String LEARNING_RATE_MULTIPLIER = "learningRateMultiplier", WEIGHT_DECAY_MULTIPLIER = "weightDecayMultiplier";

    /** The kinds {@link #toLayer()} knows. */
    public static final List<String> TYPES = List.of("Conv2d", "Dense", "MaxPool2d", "AvgPool2d", "Subsampling", "Flatten",
            "ReLU", "LeakyReLU", "SiLU", "GELU", "Sigmoid", "Tanh", "ScaledTanh", "ActivationLayer", "Dropout", "Softmax", "FeatureMapCombination", "Add", "Identity", "BatchNorm2d", "BatchNorm1d", "GlobalAvgPool2d", "Concat");

    public LayerConfig {
        settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    /** A new, unbound layer with this configuration. */
    public Layer toLayer() {
        Settings s = new Settings(type + " layer", settings);
        Layer layer = switch (type) {
            case "Conv2d" -> {
                int[] k = s.integers("kernel", 2), pad = s.integers("padding", 2), stride = s.integers("stride", 2), dil = s.integers("dilation", 2);
                yield new Conv2d(s.integer("in"), s.integer("out"), k[0], k[1]).padding(pad[0], pad[1]).stride(stride[0], stride[1])
                        .dilation(dil[0], dil[1]).bias(s.flag("bias")).init(s.choice("init", Init.class));
            }
            case "Dense" -> new Dense(s.integer("in"), s.integer("out")).bias(s.flag("bias")).init(s.choice("init", Init.class));
            case "MaxPool2d", "AvgPool2d" -> {
                int[] window = s.integers("window", 2), stride = s.integers("stride", 2), pad = s.integers("padding", 2);
                Pool2d pool = type.equals("MaxPool2d") ? new MaxPool2d(window[0], window[1]) : new AvgPool2d(window[0], window[1]);
                yield pool.stride(stride[0], stride[1]).padding(pad[0], pad[1]);
            }
            case "Subsampling" -> new Subsampling(s.integer("block"));
            case "Flatten" -> new Flatten();
            case "Add" -> new Add();
            case "Concat" -> new Concat();
            case "BatchNorm2d", "BatchNorm1d" -> (type.equals("BatchNorm2d") ? new BatchNorm2d(s.integer("features")) : new BatchNorm1d(s.integer("features")))
                    .eps(s.number("eps")).momentum(s.number("momentum"));
            case "Identity" -> new Identity();
            case "GlobalAvgPool2d" -> new GlobalAvgPool2d();
            case "ReLU" -> new ReLU();
            case "LeakyReLU" -> new LeakyReLU(s.number("slope"));
            case "SiLU" -> new SiLU();
            case "GELU" -> new GELU();
            case "Sigmoid" -> new Sigmoid();
            case "Tanh" -> new Tanh();
            case "ScaledTanh" -> new ScaledTanh();
            case "ActivationLayer" -> {
                Activation.Kind kind = s.choice("function", Activation.Kind.class);
                yield new ActivationLayer(kind == Activation.Kind.LEAKY_RELU ? Activation.leakyRelu(s.number("slope")) : Activation.of(kind));
            }
            case "Dropout" -> new Dropout(s.number("p"));
            case "Softmax" -> new Softmax();
            case "FeatureMapCombination" -> new FeatureMapCombination(s.integer("in"), s.integer("out"), s.integer("kernel"))
                    .padding(s.integer("padding")).penalty(s.choice("penalty", CombinationPenalty.class), s.number("lambda"));
            default -> throw new IllegalArgumentException("unknown layer type '" + type + "'; known types are " + TYPES);
        };
        if (settings.containsKey(LEARNING_RATE_MULTIPLIER)) layer.learningRateMultiplier(s.number(LEARNING_RATE_MULTIPLIER));
        if (settings.containsKey(WEIGHT_DECAY_MULTIPLIER)) layer.weightDecayMultiplier(s.number(WEIGHT_DECAY_MULTIPLIER));
        return layer;
    }
}
