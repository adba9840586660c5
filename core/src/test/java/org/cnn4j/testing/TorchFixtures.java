package org.cnn4j.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.Backend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/** Reads src/test/resources/torch-fixtures.txt, written by scripts/torch-fixtures.py. */
public final class TorchFixtures {

    public record Array(Shape shape, double[] values) {
    }

    public record Case(String name, Map<String, String> params, Map<String, Array> tensors) {
        public Array tensor(String name) {
            Array a = tensors.get(name);
            if (a == null) throw new IllegalArgumentException("fixture " + this.name + " has no tensor " + name);
            return a;
        }

        public int intParam(String key) {
            return Integer.parseInt(params.get(key));
        }

        public double doubleParam(String key) {
            return Double.parseDouble(params.get(key));
        }

        public String param(String key) {
            return params.get(key);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static List<Case> cases;

    private TorchFixtures() {
    }

    public static synchronized List<Case> all() {
        if (cases == null) cases = load();
        return cases;
    }

    public static List<Case> named(String prefix) {
        return all().stream().filter(c -> c.name().startsWith(prefix)).toList();
    }

    /**
     * Asserts a backend's result against PyTorch's: within the backend's tolerance ({@link
     * Backends#tolerance}: float32 rounding, or double's) times the larger of 1 and the largest
     * expected magnitude.
     */
    public static void assertMatches(String what, Backend b, Array expected, double[] actual) {
        double tol = Backends.tolerance(b);
        Close.assertClose(what + " on " + b.name(), expected.values(), actual, tol * Math.max(1, Close.maxAbs(expected.values())), tol);
    }

    /** {@link #assertMatches(String, Backend, Array, double[])} of a tensor. */
    public static void assertMatches(String what, Backend b, Array expected, Tensor actual) {
        assertMatches(what, b, expected, actual.toDoubleArray());
    }

    /** The array of a record {@code tensor NAME d0,d1,... v v v}, split at its spaces. */
    static Array array(String[] fields) {
        int[] dims = Arrays.stream(fields[2].split(",")).mapToInt(Integer::parseInt).toArray();
        double[] v = new double[fields.length - 3];
        for (int i = 0; i < v.length; i++) v[i] = Double.parseDouble(fields[i + 3]);
        return new Array(Shape.of(dims), v);
    }

    private static List<Case> load() {
        List<Case> out = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(
                TorchFixtures.class.getResourceAsStream("/torch-fixtures.txt"), StandardCharsets.UTF_8))) {
            String line, name = null;
            Map<String, String> params = null;
            Map<String, Array> tensors = null;
            while ((line = in.readLine()) != null) {
                if (line.startsWith("#") || line.isBlank()) continue;
                String[] f = line.split(" ");
                switch (f[0]) {
                    case "case" -> {
                        name = f[1];
                        params = new HashMap<>();
                        tensors = new LinkedHashMap<>();
                        for (int i = 2; i < f.length; i++) {
                            String[] kv = f[i].split("=", 2);
                            params.put(kv[0], kv[1]);
                        }
                    }
                    case "tensor" -> tensors.put(f[1], array(f));
                    case "end" -> out.add(new Case(name, Map.copyOf(params), tensors));
                    default -> throw new IllegalStateException("bad fixture line: " + line.substring(0, Math.min(40, line.length())));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return List.copyOf(out);
    }
}
