package org.cnn4j.data;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;

/**
 * What a trained model needs to know about its data to be used on new images: the class names,
 * how an image file becomes an input ({@link Preprocessing}: channels, resize, centre crop) and
 * the normalisation its inputs had; and, for the record, the augmentation training applied
 * (see {@link DataLoader}; an empty map when none). Stored in the model file.
 *
 * @param preprocessing null in files written before it was stored: {@link #preprocessing(Shape)}
 *                      then derives it from the model's input
 */
public record DataInfo(String dataset, List<String> classNames, Normalization normalization, Preprocessing preprocessing,
                       Map<String, Object> augmentation) {
    public DataInfo {
        classNames = List.copyOf(classNames);
        augmentation = augmentation == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(augmentation));
    }

    /** Without preprocessing (derived from the model's input) or augmentation. */
    public DataInfo(String dataset, List<String> classNames, Normalization normalization) {
        this(dataset, classNames, normalization, null, null);
    }

    /**
     * The classes and the training set's own statistics; images prepared for the training set's
     * sample shape (when it has 1 or 3 channels, which image files can give).
     */
    public static DataInfo of(Dataset train) {
        Shape sample = train.sampleShape();
        return new DataInfo(train.name(), train.classNames(), train.statistics(),
                sample.dim(0) == 1 || sample.dim(0) == 3 ? Preprocessing.of(sample) : null, null);
    }

    /** The same, with this preprocessing and augmentation. */
    public DataInfo with(Preprocessing p, Map<String, Object> augmented) {
        return new DataInfo(dataset, classNames, normalization, p, augmented);
    }

    /** How to prepare images for a model with this input: the stored way, else scaled to cover its centre crop. */
    public Preprocessing preprocessing(Shape input) {
        if (preprocessing != null) {
            if (!preprocessing.input().equals(input)) {
                throw new IllegalArgumentException("the data description prepares images as " + preprocessing.input() + " but the model takes " + input);
            }
            return preprocessing;
        }
        return Preprocessing.of(input);
    }

    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("dataset", dataset);
        c.put("classNames", classNames);
        c.put("mean", normalization.mean());
        c.put("std", normalization.std());
        if (preprocessing != null) c.put("preprocessing", preprocessing.config());
        if (!augmentation.isEmpty()) c.put("augmentation", augmentation);
        return c;
    }

    public static DataInfo fromConfig(Settings s) {
        Object names = s.require("classNames");
        if (!(names instanceof List<?> list) || !list.stream().allMatch(x -> x instanceof String)) {
            throw new IllegalArgumentException(s.owner() + ": classNames must be a list of strings, got " + org.cnn4j.io.Json.describe(names));
        }
        Preprocessing p = s.values().containsKey("preprocessing")
                ? Preprocessing.fromConfig(Settings.of(s.owner() + " preprocessing", s.require("preprocessing"))) : null;
        Map<String, Object> augmentation = new LinkedHashMap<>();
        if (s.values().containsKey("augmentation")) {
            Settings.of(s.owner() + " augmentation", s.require("augmentation")).values().forEach(augmentation::put);
        }
        return new DataInfo(s.string("dataset"), list.stream().map(String.class::cast).toList(),
                new Normalization(s.numbers("mean"), s.numbers("std")), p, augmentation);
    }
}
