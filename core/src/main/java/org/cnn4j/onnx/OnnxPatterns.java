package org.cnn4j.onnx;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import ai.onnx.proto.OnnxMl;
import org.cnn4j.backend.Activation;

/**
 * Finds the subgraphs of standard operators by which an ONNX file writes what ONNX has no
 * operator for, as {@link OnnxExport} writes them and as PyTorch's exporter writes its activations,
 * and puts one node of cnn4j's own in place of each, from which {@link OnnxImport} makes the layer
 * back:
 * <ul>
 * <li>SiLU: {@code Mul(x, Sigmoid(x))};
 * <li>GELU: {@code Div(x, √2) → Erf → Add(·, 1)}, then {@code Mul(x, ·) → Mul(·, 0.5)} (PyTorch) or
 * {@code Mul(Mul(x, 0.5), ·)} (cnn4j);
 * <li>ScaledTanh (LeCun's 1.7159·tanh(2x/3)): {@code Mul(x, 2/3) → Tanh → Mul(·, 1.7159)};
 * <li>Subsampling (β·(window sum) + b per map): {@code AveragePool} (k×k windows every k, no
 * padding) {@code → Mul(·, β·k²) → Add(·, b)}, β·k² and b constants of shape (c, 1, 1);
 * <li>Flatten, as PyTorch writes {@code x.view(x.size(0), -1)} with a dynamic batch: {@code
 * Shape(x) → Gather(·, 0) → Unsqueeze(·, [0]) → Concat(·, [−1]) → Reshape(x, ·)}.
 * </ul>
 * A subgraph is taken only where each value inside it feeds the next node alone and is no graph
 * output; everything else stays as it is. The nodes made here are known by identity, so a file
 * cannot name cnn4j's own operators itself.
 */
final class OnnxPatterns {
    static final String SILU = "cnn4j.SiLU", GELU = "cnn4j.GELU", SCALED_TANH = "cnn4j.ScaledTanh", SUBSAMPLING = "cnn4j.Subsampling",
            FLATTEN = "cnn4j.Flatten";

    private final List<OnnxMl.NodeProto> nodes;
    private final Map<String, OnnxImport.Tensor> constants;
    private final Map<String, long[]> integers;
    private final Set<String> graphOutputs;
    private final Map<String, List<Integer>> consumers = new HashMap<>();
    private final Map<String, Integer> producer = new HashMap<>();
    private final Set<OnnxMl.NodeProto> made = Collections.newSetFromMap(new IdentityHashMap<>());

    private OnnxPatterns(List<OnnxMl.NodeProto> nodes, Map<String, OnnxImport.Tensor> constants, Map<String, long[]> integers,
                         Set<String> graphOutputs) {
        this.nodes = nodes;
        this.constants = constants;
        this.integers = integers;
        this.graphOutputs = graphOutputs;
        for (int i = 0; i < nodes.size(); i++) {
            for (String v : nodes.get(i).getInputList()) consumers.computeIfAbsent(v, k -> new ArrayList<>()).add(i);
            for (String v : nodes.get(i).getOutputList()) producer.putIfAbsent(v, i);
        }
    }

    /** The nodes with each pattern replaced by its node, and the set of the nodes made here. */
    record Fused(List<OnnxMl.NodeProto> nodes, Set<OnnxMl.NodeProto> made) {
    }

    static Fused fuse(List<OnnxMl.NodeProto> nodes, Map<String, OnnxImport.Tensor> constants, Map<String, long[]> integers,
                      Set<String> graphOutputs) {
        OnnxPatterns p = new OnnxPatterns(nodes, constants, integers, graphOutputs);
        List<OnnxMl.NodeProto> out = new ArrayList<>();
        boolean[] covered = new boolean[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            if (covered[i]) continue;
            Match m = p.silu(i);
            if (m == null) m = p.gelu(i);
            if (m == null) m = p.scaledTanh(i);
            if (m == null) m = p.subsampling(i);
            if (m == null) m = p.flatten(i);
            if (m == null) {
                out.add(nodes.get(i));
                continue;
            }
            for (int c : m.covered) covered[c] = true;
            out.add(m.node);
            p.made.add(m.node);
        }
        return new Fused(out, p.made);
    }

    /** A pattern found: the node standing for it, and the indices of the nodes it replaces. */
    private record Match(OnnxMl.NodeProto node, int[] covered) {
    }

    private Match match(String op, int last, List<String> inputs, int... covered) {
        OnnxMl.NodeProto end = nodes.get(last);
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(end.getName()).addAllInput(inputs).addOutput(end.getOutput(0));
        return new Match(n.build(), covered);
    }

    private boolean is(int i, String op, int inputs) {
        if (i < 0) return false;
        OnnxMl.NodeProto n = nodes.get(i);
        return n.getOpType().equals(op) && (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx")) && n.getInputCount() == inputs
                && n.getOutputCount() >= 1;
    }

    private String out(int i) {
        return nodes.get(i).getOutput(0);
    }

    /** The one node that reads {@code value}, or −1 when none, several, or the graph's output does. */
    private int only(String value) {
        List<Integer> c = consumers.get(value);
        return c == null || c.size() != 1 || graphOutputs.contains(value) ? -1 : c.get(0);
    }

    /** Of node i's two inputs, the one that is not {@code value}, or null unless exactly one is. */
    private String other(int i, String value) {
        OnnxMl.NodeProto n = nodes.get(i);
        if (n.getInput(0).equals(value) && !n.getInput(1).equals(value)) return n.getInput(1);
        if (n.getInput(1).equals(value) && !n.getInput(0).equals(value)) return n.getInput(0);
        return null;
    }

    /** Whether {@code name} is a one-element constant within float rounding of {@code expected}. */
    private boolean scalar(String name, double expected) {
        OnnxImport.Tensor t = name == null ? null : constants.get(name);
        return t != null && t.values().length == 1 && Math.abs(t.values()[0] - expected) <= 1e-6 * Math.max(1, Math.abs(expected));
    }

    /** The input of binary node i that is not a constant, when the other one is; else null. */
    private String variable(int i) {
        OnnxMl.NodeProto n = nodes.get(i);
        boolean c0 = constants.containsKey(n.getInput(0)), c1 = constants.containsKey(n.getInput(1));
        return c0 == c1 ? null : c0 ? n.getInput(1) : n.getInput(0);
    }

    private Match silu(int i) {
        if (!is(i, "Sigmoid", 1)) return null;
        String x = nodes.get(i).getInput(0);
        int mul = only(out(i));
        if (!is(mul, "Mul", 2) || !x.equals(other(mul, out(i)))) return null;
        return match(SILU, mul, List.of(x), i, mul);
    }

    private Match gelu(int i) {
        boolean div = is(i, "Div", 2), mul = is(i, "Mul", 2);
        if (!div && !mul) return null;
        OnnxMl.NodeProto first = nodes.get(i);
        String x = first.getInput(0), c = first.getInput(1);
        if (!(div ? scalar(c, Math.sqrt(2)) : scalar(c, Math.sqrt(0.5))) || constants.containsKey(x)) return null;
        int erf = only(out(i));
        if (!is(erf, "Erf", 1)) return null;
        int plus = only(out(erf));
        if (!is(plus, "Add", 2) || !scalar(other(plus, out(erf)), 1)) return null;
        int product = only(out(plus));
        if (!is(product, "Mul", 2)) return null;
        String factor = other(product, out(plus));
        if (x.equals(factor)) { // PyTorch: (x · (erf + 1)) · 0.5
            int half = only(out(product));
            if (!is(half, "Mul", 2) || !scalar(other(half, out(product)), 0.5)) return null;
            return match(GELU, half, List.of(x), i, erf, plus, product, half);
        }
        Integer half = factor == null ? null : producer.get(factor); // cnn4j: (x · 0.5) · (erf + 1)
        if (half == null || !is(half, "Mul", 2) || only(factor) != product || !x.equals(variable(half)) || !scalar(other(half, x), 0.5)) return null;
        return match(GELU, product, List.of(x), i, erf, plus, half, product);
    }

    private Match scaledTanh(int i) {
        if (!is(i, "Mul", 2)) return null;
        String x = variable(i);
        if (x == null || !scalar(other(i, x), Activation.SCALED_TANH_B)) return null;
        int tanh = only(out(i));
        if (!is(tanh, "Tanh", 1)) return null;
        int scale = only(out(tanh));
        if (!is(scale, "Mul", 2) || !scalar(other(scale, out(tanh)), Activation.SCALED_TANH_A)) return null;
        return match(SCALED_TANH, scale, List.of(x), i, tanh, scale);
    }

    private Match subsampling(int i) {
        if (!is(i, "AveragePool", 1)) return null;
        OnnxMl.NodeProto pool = nodes.get(i);
        long[] k = longs(pool, "kernel_shape"), strides = longs(pool, "strides"), pads = longs(pool, "pads");
        if (k == null || k.length != 2 || k[0] != k[1] || strides == null || strides.length != 2 || strides[0] != k[0] || strides[1] != k[0]) return null;
        if (pads != null && java.util.Arrays.stream(pads).anyMatch(v -> v != 0)) return null;
        for (OnnxMl.AttributeProto a : pool.getAttributeList()) {
            boolean harmless = switch (a.getName()) {
                case "kernel_shape", "strides", "pads", "count_include_pad" -> true;
                case "ceil_mode" -> a.getI() == 0;
                case "auto_pad" -> a.getS().toStringUtf8().equals("NOTSET") || a.getS().toStringUtf8().equals("VALID");
                default -> false;
            };
            if (!harmless) return null;
        }
        int scale = only(out(i));
        if (!is(scale, "Mul", 2) || !perMap(other(scale, out(i)))) return null;
        int shift = only(out(scale));
        if (!is(shift, "Add", 2) || !perMap(other(shift, out(scale))) || sizeOf(other(shift, out(scale))) != sizeOf(other(scale, out(i)))) return null;
        Match m = match(SUBSAMPLING, shift, List.of(pool.getInput(0), other(scale, out(i)), other(shift, out(scale))), i, scale, shift);
        OnnxMl.NodeProto n = m.node.toBuilder().addAttribute(OnnxMl.AttributeProto.newBuilder().setName("block")
                .setType(OnnxMl.AttributeProto.AttributeType.INT).setI(k[0])).build();
        return new Match(n, m.covered);
    }

    private Match flatten(int i) {
        if (!is(i, "Shape", 1)) return null;
        String x = nodes.get(i).getInput(0);
        int gather = only(out(i));
        if (!is(gather, "Gather", 2) || !nodes.get(gather).getInput(0).equals(out(i)) || !integer(nodes.get(gather).getInput(1), 0)
                || longAttribute(gather, "axis", 0) != 0) {
            return null;
        }
        int unsqueeze = only(out(gather));
        if (unsqueeze < 0 || !nodes.get(unsqueeze).getOpType().equals("Unsqueeze") || !nodes.get(unsqueeze).getInput(0).equals(out(gather))) return null;
        OnnxMl.NodeProto u = nodes.get(unsqueeze); // axes [0]: an input from opset 13, an attribute before
        long[] axes = u.getInputCount() > 1 ? integers.get(u.getInput(1)) : longs(u, "axes");
        if (axes == null || axes.length != 1 || axes[0] != 0) return null;
        int concat = only(out(unsqueeze));
        if (!is(concat, "Concat", 2) || !nodes.get(concat).getInput(0).equals(out(unsqueeze)) || !integer(nodes.get(concat).getInput(1), -1)
                || longAttribute(concat, "axis", -99) != 0) {
            return null;
        }
        int reshape = only(out(concat));
        if (!is(reshape, "Reshape", 2) || !nodes.get(reshape).getInput(0).equals(x) || !nodes.get(reshape).getInput(1).equals(out(concat))) return null;
        return match(FLATTEN, reshape, List.of(x), i, gather, unsqueeze, concat, reshape);
    }

    /** Whether {@code name} is an int64 constant of the one value {@code expected} (of shape () or (1)). */
    private boolean integer(String name, long expected) {
        long[] v = integers.get(name);
        return v != null && v.length == 1 && v[0] == expected;
    }

    private long longAttribute(int i, String key, long otherwise) {
        for (OnnxMl.AttributeProto a : nodes.get(i).getAttributeList()) if (a.getName().equals(key)) return a.getI();
        return otherwise;
    }

    /** Whether {@code name} is a constant of shape (c, 1, 1): one value per map. */
    private boolean perMap(String name) {
        OnnxImport.Tensor t = name == null ? null : constants.get(name);
        return t != null && t.dims().length == 3 && t.dims()[1] == 1 && t.dims()[2] == 1;
    }

    private int sizeOf(String name) {
        return constants.get(name).values().length;
    }

    private static long[] longs(OnnxMl.NodeProto n, String key) {
        for (OnnxMl.AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(key)) return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
        }
        return null;
    }
}
