package org.cnn4j.layer;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.cnn4j.io.Settings;

/**
 * A layer's kind and settings as plain values (integers, numbers, booleans, strings and int
 * arrays): what a model file stores to rebuild the layer, and what {@link Layer#copy()} goes
 * through. The kinds are registered here, each with the reader that turns its settings back into
 * a layer (the inverse of the layer's {@code settings}); reading checks every value
 * ({@link Settings}). A layer kind of one's own joins with {@link #register}.
 */
public record LayerConfig(String type, Map<String, Object> settings) {
    static final String LEARNING_RATE_MULTIPLIER = "learningRateMultiplier", WEIGHT_DECAY_MULTIPLIER = "weightDecayMultiplier";

    /** Kind name (the layer class's simple name) → reader, in registration order. */
    private static final Map<String, Function<Settings, ? extends Layer>> KINDS = new LinkedHashMap<>();

    static {
        register("Conv2d", Conv2d::read);
        register("Dense", Dense::read);
        register("MaxPool2d", s -> Pool2d.read(s, MaxPool2d::new));
        register("AvgPool2d", AvgPool2d::read);
        register("GlobalAvgPool2d", s -> new GlobalAvgPool2d());
        register("Subsampling", Subsampling::read);
        register("FeatureMapCombination", FeatureMapCombination::read);
        register("BatchNorm2d", s -> BatchNorm.read(s, BatchNorm2d::new));
        register("BatchNorm1d", s -> BatchNorm.read(s, BatchNorm1d::new));
        register("Flatten", s -> new Flatten());
        register("Add", s -> new Add());
        register("Concat", s -> new Concat());
        register("Identity", s -> new Identity());
        register("ReLU", s -> new ReLU());
        register("LeakyReLU", s -> new LeakyReLU(s.number("slope")));
        register("SiLU", s -> new SiLU());
        register("GELU", s -> new GELU());
        register("Sigmoid", s -> new Sigmoid());
        register("Tanh", s -> new Tanh());
        register("ScaledTanh", s -> new ScaledTanh());
        register("ActivationLayer", ActivationLayer::read);
        register("Dropout", Dropout::read);
        register("Softmax", s -> new Softmax());
        register("ZeroPad2d", ZeroPad2d::read);
    }

    public LayerConfig {
        settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    /**
     * Makes a layer kind known to model files and {@link Layer#copy()}: {@code type} is the layer
     * class's simple name (what {@link Layer#config()} writes), {@code reader} builds an unbound
     * layer from the settings its {@code settings} method puts. A name is registered once.
     */
    public static synchronized void register(String type, Function<Settings, ? extends Layer> reader) {
        if (KINDS.putIfAbsent(type, reader) != null) throw new IllegalArgumentException("layer type '" + type + "' is already registered");
    }

    /** The kinds {@link #toLayer()} knows, in registration order. */
    public static synchronized List<String> types() {
        return List.copyOf(KINDS.keySet());
    }

    /** A new, unbound layer with this configuration. */
    public Layer toLayer() {
        Function<Settings, ? extends Layer> reader;
        synchronized (LayerConfig.class) {
            reader = KINDS.get(type);
        }
        if (reader == null) throw new IllegalArgumentException("unknown layer type '" + type + "'; known types are " + types());
        Settings s = new Settings(type + " layer", settings);
        Layer layer = reader.apply(s);
        if (settings.containsKey(LEARNING_RATE_MULTIPLIER)) layer.learningRateMultiplier(s.number(LEARNING_RATE_MULTIPLIER));
        if (settings.containsKey(WEIGHT_DECAY_MULTIPLIER)) layer.weightDecayMultiplier(s.number(WEIGHT_DECAY_MULTIPLIER));
        return layer;
    }
}
