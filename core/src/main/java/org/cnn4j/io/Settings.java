package org.cnn4j.io;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Named plain values (integers, numbers, booleans, strings, int arrays) that configure something a
 * file stores — a layer, an optimizer — with typed reads that name the owner and the setting when
 * a value is missing or of the wrong sort.
 */
public record Settings(String owner, Map<String, Object> values) {
    public Settings {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** A JSON object read by {@link Json} as settings of its own; anything else is refused, naming the owner. */
    public static Settings of(String owner, Object object) {
        if (!(object instanceof Map<?, ?> map)) throw new IllegalArgumentException(owner + " must be an object, got " + text(object));
        Map<String, Object> values = new LinkedHashMap<>();
        map.forEach((k, v) -> values.put(String.valueOf(k), v));
        return new Settings(owner, values);
    }

    public Object require(String key) {
        Object v = values.get(key);
        if (v == null) throw new IllegalArgumentException(owner + ": setting '" + key + "' is missing");
        return v;
    }

    private IllegalArgumentException wrong(String key, String expected) {
        return new IllegalArgumentException(owner + ": setting '" + key + "' must be " + expected + ", got " + text(values.get(key)));
    }

    public int integer(String key) {
        if (require(key) instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) <= Integer.MAX_VALUE) {
            return n.intValue();
        }
        throw wrong(key, "an integer");
    }

    public long longInteger(String key) {
        if (require(key) instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) return n.longValue();
        throw wrong(key, "an integer");
    }

    public double number(String key) {
        if (require(key) instanceof Number n) return n.doubleValue();
        throw wrong(key, "a number");
    }

    /**
     * A number that may be absent or null, read back as NaN: JSON has no NaN or infinities, and
     * cnn4j's writer leaves such values out of an object.
     */
    public double numberOrNaN(String key) {
        return values.get(key) == null ? Double.NaN : number(key);
    }

    public boolean flag(String key) {
        if (require(key) instanceof Boolean b) return b;
        throw wrong(key, "true or false");
    }

    public String string(String key) {
        if (require(key) instanceof String s) return s;
        throw wrong(key, "a string");
    }

    /** A list (an empty JSON list reads as an empty int array, which counts as a list too). */
    public List<?> list(String key) {
        Object v = require(key);
        if (v instanceof List<?> list) return list;
        if (v instanceof int[] a && a.length == 0) return List.of();
        throw wrong(key, "a list");
    }

    public int[] integers(String key, int length) {
        if (require(key) instanceof int[] a && (length < 0 || a.length == length)) return a.clone();
        throw wrong(key, length < 0 ? "a list of integers" : length + " integers");
    }

    public double[] numbers(String key) {
        Object v = require(key);
        if (v instanceof double[] a) return a.clone();
        if (v instanceof int[] a) return Arrays.stream(a).asDoubleStream().toArray();
        if (v instanceof long[] a) return Arrays.stream(a).asDoubleStream().toArray();
        throw wrong(key, "a list of numbers");
    }

    public <E extends Enum<E>> E choice(String key, Class<E> kind) {
        try {
            return Enum.valueOf(kind, String.valueOf(require(key)).toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw wrong(key, "one of " + Arrays.toString(kind.getEnumConstants()));
        }
    }

    private static String text(Object v) {
        return v == null ? "nothing" : Json.describe(v);
    }
}
