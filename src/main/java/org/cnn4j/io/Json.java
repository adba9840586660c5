package org.cnn4j.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

/**
 * Plain values to JSON and back: maps (string keys, order kept), lists, int and double arrays,
 * numbers, booleans, strings. Reading turns a list of integers into an {@code int[]}, a list of
 * numbers into a {@code double[]}, an integral number into an Integer (or Long), others into a Double.
 */
public final class Json {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeSpecialFloatingPointValues().create();

    private Json() {
    }

    public static String write(Object value) {
        return GSON.toJson(tree(value));
    }

    /** Parses JSON text; a syntax error becomes an IllegalArgumentException that says where. */
    public static Object read(String text) {
        try {
            return value(JsonParser.parseString(text));
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Parses a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> readObject(String text) {
        Object v = read(text);
        if (!(v instanceof Map)) throw new IllegalArgumentException("expected a JSON object, got " + text.substring(0, Math.min(40, text.length())));
        return (Map<String, Object>) v;
    }

    static JsonElement tree(Object v) {
        if (v == null) return JsonNull.INSTANCE;
        if (v instanceof JsonElement e) return e;
        if (v instanceof Number n) return new JsonPrimitive(n);
        if (v instanceof Boolean b) return new JsonPrimitive(b);
        if (v instanceof String s) return new JsonPrimitive(s);
        if (v instanceof Enum<?> e) return new JsonPrimitive(e.name());
        if (v instanceof int[] a) {
            JsonArray arr = new JsonArray();
            for (int x : a) arr.add(x);
            return arr;
        }
        if (v instanceof double[] a) {
            JsonArray arr = new JsonArray();
            for (double x : a) arr.add(x);
            return arr;
        }
        if (v instanceof Iterable<?> list) {
            JsonArray arr = new JsonArray();
            for (Object x : list) arr.add(tree(x));
            return arr;
        }
        if (v instanceof Map<?, ?> map) {
            JsonObject obj = new JsonObject();
            for (Map.Entry<?, ?> e : map.entrySet()) obj.add(String.valueOf(e.getKey()), tree(e.getValue()));
            return obj;
        }
        throw new IllegalArgumentException("cannot write a " + v.getClass().getSimpleName() + " as JSON");
    }

    static Object value(JsonElement e) {
        if (e.isJsonNull()) return null;
        if (e.isJsonObject()) {
            Map<String, Object> map = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> m : e.getAsJsonObject().entrySet()) map.put(m.getKey(), value(m.getValue()));
            return map;
        }
        if (e.isJsonArray()) {
            List<Object> items = new ArrayList<>();
            for (JsonElement x : e.getAsJsonArray()) items.add(value(x));
            if (items.stream().allMatch(x -> x instanceof Integer)) return items.stream().mapToInt(x -> (Integer) x).toArray();
            if (!items.isEmpty() && items.stream().allMatch(x -> x instanceof Number)) {
                return items.stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray();
            }
            return items;
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) return p.getAsBoolean();
        if (p.isString()) return p.getAsString();
        double d = p.getAsDouble();
        String text = p.getAsString();
        boolean integral = !text.contains(".") && !text.contains("e") && !text.contains("E");
        if (integral && d >= Integer.MIN_VALUE && d <= Integer.MAX_VALUE) return (int) d;
        if (integral && Math.abs(d) < 0x1p63) return p.getAsLong();
        return d;
    }
}
