package org.cnn4j.io;

import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;

/**
 * Plain values to JSON and back: maps (string keys, order kept), lists, int, long and double
 * arrays, numbers, booleans, strings. Reading is strict RFC 8259 JSON, as other readers of the
 * formats cnn4j writes expect: no comments, no single quotes or unquoted names, no NaN or
 * Infinity (nor a number too large for a double), no duplicate keys, nothing after the value. An
 * integer literal reads as an Integer, or a Long when it needs 64 bits, exactly; a list of them as
 * an {@code int[]} (or {@code long[]}); other numbers as Doubles, a list of numbers as a
 * {@code double[]}. Writing turns a non-finite double into null, since JSON has no such number.
 */
public final class Json {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    /** Nesting deeper than this is refused: no file cnn4j reads needs more, and a deep one would exhaust the stack. */
    static final int MAX_DEPTH = 64;

    private Json() {
    }

    public static String write(Object value) {
        return GSON.toJson(tree(value));
    }

    /** Parses JSON text; an error becomes an IllegalArgumentException that says what and where. */
    public static Object read(String text) {
        try (JsonReader reader = new JsonReader(new StringReader(text))) {
            reader.setStrictness(Strictness.STRICT);
            Object value = value(reader, 0);
            if (reader.peek() != JsonToken.END_DOCUMENT) throw new IllegalArgumentException("not valid JSON: more text after the value" + at(reader));
            return value;
        } catch (MalformedJsonException | IllegalStateException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
        } catch (java.io.EOFException e) {
            throw new IllegalArgumentException("not valid JSON: the text ends inside a value", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Parses a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> readObject(String text) {
        Object v = read(text);
        if (!(v instanceof Map)) throw new IllegalArgumentException("expected a JSON object, got " + describe(v));
        return (Map<String, Object>) v;
    }

    /** A value read by {@link #read} as short JSON text for a message (never a Java object identity). */
    public static String describe(Object v) {
        String text = v instanceof String s ? s : write(v);
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }

    static JsonElement tree(Object v) {
        if (v == null) return JsonNull.INSTANCE;
        if (v instanceof JsonElement e) return e;
        if (v instanceof Double d && !Double.isFinite(d) || v instanceof Float f && !Float.isFinite(f)) return JsonNull.INSTANCE;
        if (v instanceof Number n) return new JsonPrimitive(n);
        if (v instanceof Boolean b) return new JsonPrimitive(b);
        if (v instanceof String s) return new JsonPrimitive(s);
        if (v instanceof Enum<?> e) return new JsonPrimitive(e.name());
        if (v instanceof int[] a) return tree(Arrays.stream(a).boxed().toList());
        if (v instanceof long[] a) return tree(Arrays.stream(a).boxed().toList());
        if (v instanceof double[] a) return tree(Arrays.stream(a).boxed().toList());
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

    private static Object value(JsonReader reader, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new IllegalArgumentException("not valid JSON here: nested deeper than " + MAX_DEPTH + " levels" + at(reader));
        return switch (reader.peek()) {
            case BEGIN_OBJECT -> {
                Map<String, Object> map = new LinkedHashMap<>();
                reader.beginObject();
                while (reader.hasNext()) {
                    String key = reader.nextName();
                    if (map.containsKey(key)) throw new IllegalArgumentException("not valid JSON here: key '" + key + "' appears twice" + at(reader));
                    map.put(key, value(reader, depth + 1));
                }
                reader.endObject();
                yield map;
            }
            case BEGIN_ARRAY -> {
                List<Object> items = new ArrayList<>();
                reader.beginArray();
                while (reader.hasNext()) items.add(value(reader, depth + 1));
                reader.endArray();
                yield array(items);
            }
            case STRING -> reader.nextString();
            case NUMBER -> number(reader);
            case BOOLEAN -> reader.nextBoolean();
            case NULL -> {
                reader.nextNull();
                yield null;
            }
            default -> throw new IllegalArgumentException("not valid JSON: unexpected " + reader.peek() + at(reader));
        };
    }

    private static Object number(JsonReader reader) throws IOException {
        String text = reader.nextString();
        boolean integral = text.chars().allMatch(ch -> ch == '-' || ch >= '0' && ch <= '9');
        if (integral) {
            try {
                long l = Long.parseLong(text);
                return l == (int) l ? (Object) (int) l : (Object) l;
            } catch (NumberFormatException e) {
                // Beyond 64 bits: a double, which no integer setting accepts.
            }
        }
        double d = Double.parseDouble(text);
        if (!Double.isFinite(d)) throw new IllegalArgumentException("not valid JSON here: number " + text + " is beyond a double's range" + at(reader));
        return d;
    }

    private static Object array(List<Object> items) {
        if (items.stream().allMatch(x -> x instanceof Integer)) return items.stream().mapToInt(x -> (Integer) x).toArray();
        if (items.stream().allMatch(x -> x instanceof Integer || x instanceof Long)) return items.stream().mapToLong(x -> ((Number) x).longValue()).toArray();
        if (items.stream().allMatch(x -> x instanceof Number)) return items.stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray();
        return items;
    }

    private static String at(JsonReader reader) {
        String location = reader.toString(); // "JsonReader at line L column C path $.x"
        int i = location.indexOf(" at ");
        return i < 0 ? "" : " (" + location.substring(i + 1) + ")";
    }

}
