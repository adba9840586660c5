package org.cnn4j.data;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.io.Settings;

/**
 * What a trained model needs to know about its data to be used on new images: the class names and
 * the normalisation its inputs had. Stored in the model file.
 */
public record DataInfo(String dataset, List<String> classNames, Normalization normalization) {
    public DataInfo {
        classNames = List.copyOf(classNames);
    }

    /** The classes and the training set's own statistics. */
    public static DataInfo of(Dataset train) {
        return new DataInfo(train.name(), train.classNames(), train.statistics());
    }

    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("dataset", dataset);
        c.put("classNames", classNames);
        c.put("mean", normalization.mean());
        c.put("std", normalization.std());
        return c;
    }

    public static DataInfo fromConfig(Settings s) {
        Object names = s.require("classNames");
        if (!(names instanceof List<?> list) || !list.stream().allMatch(x -> x instanceof String)) {
            throw new IllegalArgumentException(s.owner() + ": classNames must be a list of strings, got " + org.cnn4j.io.Json.describe(names));
        }
        return new DataInfo(s.string("dataset"), list.stream().map(String.class::cast).toList(),
                new Normalization(s.numbers("mean"), s.numbers("std")));
    }
}
