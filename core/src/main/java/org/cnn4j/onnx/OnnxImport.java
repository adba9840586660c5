package org.cnn4j.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.InvalidProtocolBufferException;
import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.io.Json;
import org.cnn4j.io.ModelFile;
import org.cnn4j.io.Settings;
import org.cnn4j.layer.Add;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.BatchNorm1d;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Concat;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.GELU;
import org.cnn4j.layer.GlobalAvgPool2d;
import org.cnn4j.layer.Identity;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.LeakyReLU;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Merge;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.ScaledTanh;
import org.cnn4j.layer.SiLU;
import org.cnn4j.layer.Sigmoid;
import org.cnn4j.layer.Softmax;
import org.cnn4j.layer.Subsampling;
import org.cnn4j.layer.Tanh;
import org.cnn4j.layer.ZeroPad2d;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.Shape;

/**
 * Reads an ONNX model (as cnn4j and PyTorch's {@code torch.onnx.export} write them) into a cnn4j
 * graph that evaluates, predicts and trains further. Operators: Conv (any group, symmetric pads or
 * an auto_pad that makes them), Gemm (alpha = beta = 1, transA 0, either transB), BatchNormalization
 * (inference form), Relu, LeakyRelu, Sigmoid, Tanh, Softmax, MaxPool and AveragePool (any pads or
 * auto_pad, ceil_mode, either count_include_pad, a max pooling's dilations), GlobalMaxPool (as a
 * max pooling over the whole image), GlobalAveragePool and ReduceMean over h and w (followed by
 * Flatten, a flattening Reshape, a Squeeze of h and w or Gemm where it keeps their dimensions),
 * Flatten (axis 1), Reshape by a constant shape that flattens each sample ([0 or −1 or the file's
 * fixed batch, −1 or the sample's size]) or keeps it, Add of two computed values, Concat
 * (channels) of one or more, Identity and Dropout (the identity), Constant (float and int64
 * values); and the subgraphs {@link OnnxPatterns} recognises (SiLU, GELU, the scaled tanh,
 * subsampling) as those layers. Nodes of constants alone fold into constants (an Identity of a
 * weight names it again; Reshape and Concat build shapes). A final Softmax or LogSoftmax over the
 * classes is left to the loss and the classifier, which take logits and apply the softmax
 * themselves: the model's outputs are its input. Anything else, an attribute value outside these,
 * or a weight that is not a float initializer is refused with the node's name and what is missing.
 * Initializers may be stored in the file or as external data in a file in its folder (ONNX's
 * {@code external_data}).
 *
 * <p>Hostile files: the file is read whole (at most 2 GiB) and parsed by protobuf, which refuses
 * lengths beyond the data; every initializer's element count is checked against its bytes, every
 * dimension against the limits, before anything is allocated from it; external data is read only
 * from a file in the model's folder or below, within its size; the graph is checked shape by shape
 * as it is built, each node's output against the values per sample a model file may hold.
 *
 * <p>The data description comes from the model's {@code cnn4j.data} metadata (as {@link OnnxExport}
 * writes it); a model without it gets the classes "0" … "k−1" and no normalisation of its own
 * (pixels scaled to [0, 1], as torchvision's {@code ToTensor}), unless the caller gives one.
 */
public final class OnnxImport {
    /** The most elements one initializer may have. */
    private static final long MAX_ELEMENTS = 1L << 30;
    private static final int MAX_INTEGERS = 64;

    private final Path file;
    private final Map<String, Tensor> initializers = new HashMap<>();
    /** Constant int64 tensors of at most {@link #MAX_INTEGERS} values (shapes, axes, indices), by name. */
    private final Map<String, long[]> integers = new HashMap<>();
    /** Their dimensions (1-D where none is recorded). */
    private final Map<String, long[]> integerDims = new HashMap<>();
    private final Map<String, String> producers = new HashMap<>(); // ONNX value -> cnn4j node (or Model.INPUT)
    private final Map<String, Shape> shapes = new HashMap<>(); // ONNX value -> its shape per sample in cnn4j
    private final Set<String> pooled = new HashSet<>(); // values of a GlobalAveragePool: (c) in cnn4j, (c, 1, 1) in ONNX
    private final Set<String> used = new HashSet<>(); // the values some node or the graph's output takes
    private final Map<String, float[]> weights = new LinkedHashMap<>();
    private final Graph.Builder builder = Graph.builder();
    private final Set<String> names = new HashSet<>();
    private Shape input;
    /** The graph input's batch size where the file fixes it (a model exported without a dynamic batch), else −2. */
    private long batch = -2;
    /** The nodes {@link OnnxPatterns} put in place of subgraphs (the only ones of cnn4j's own operators). */
    private Set<OnnxMl.NodeProto> fused = Set.of();

    /**
     * A model read from an ONNX file, with its data description and the file's metadata strings
     * (which hold {@link ModelFile#DATA_KEY} only where cnn4j wrote the file with one).
     */
    public record Imported(Model model, DataInfo data, Map<String, String> metadata) {
    }

    record Tensor(int[] dims, float[] values) {
    }

    private OnnxImport(Path file) {
        this.file = file;
    }

    /** Reads the file's model onto {@code backend}; see the class comment. */
    public static Imported read(Path file, Backend backend) throws IOException {
        long size = Files.size(file);
        if (size > Integer.MAX_VALUE - 16) throw new FileFormatException(file, "an ONNX file of " + size + " bytes, more than 2 GiB");
        OnnxMl.ModelProto proto;
        try {
            proto = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(file));
        } catch (InvalidProtocolBufferException e) {
            throw new FileFormatException(file, "not an ONNX model (protobuf): " + e.getMessage());
        }
        return new OnnxImport(file).build(proto, Map.of(), backend);
    }

    /** A cnn4j model file or checkpoint, or an ONNX file (its name ends in .onnx), with its data description. */
    public static ModelFile.Loaded loadAny(Path file, Backend backend) throws IOException {
        if (file.getFileName() != null && file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".onnx")) {
            Imported onnx = read(file, backend);
            return new ModelFile.Loaded(onnx.model(), onnx.data(), onnx.metadata(), Map.of());
        }
        return ModelFile.load(file, backend);
    }

    /**
     * {@link #read(Path, Backend)} of a parsed model whose graph inputs named in {@code constants}
     * take those values, as initializers (the ONNX conformance tests give weights as inputs).
     */
    static Imported read(Path file, OnnxMl.ModelProto proto, Map<String, OnnxMl.TensorProto> constants, Backend backend) throws FileFormatException {
        return new OnnxImport(file).build(proto, constants, backend);
    }

    private Imported build(OnnxMl.ModelProto proto, Map<String, OnnxMl.TensorProto> constants, Backend backend) throws FileFormatException {
        if (!proto.hasGraph() || proto.getGraph().getNodeCount() == 0) throw new FileFormatException(file, "an ONNX model without a graph");
        for (Map.Entry<String, OnnxMl.TensorProto> c : constants.entrySet()) {
            OnnxMl.TensorProto t = c.getValue().toBuilder().setName(c.getKey()).build();
            if (t.getDataType() == OnnxMl.TensorProto.DataType.INT64.getNumber()) integers(c.getKey(), t);
            else initializers.put(c.getKey(), tensor(t));
        }
        for (OnnxMl.OperatorSetIdProto opset : proto.getOpsetImportList()) {
            boolean standard = opset.getDomain().isEmpty() || opset.getDomain().equals("ai.onnx");
            if (standard && (opset.getVersion() < 7 || opset.getVersion() > 22)) {
                throw new FileFormatException(file, "opset " + opset.getVersion() + ": cnn4j reads opsets 7 to 22");
            }
        }
        OnnxMl.GraphProto g = proto.getGraph();
        for (OnnxMl.TensorProto t : g.getInitializerList()) {
            if (t.getDataType() == OnnxMl.TensorProto.DataType.INT64.getNumber()) integers(t.getName(), t);
            else initializers.put(t.getName(), tensor(t));
        }
        List<OnnxMl.ValueInfoProto> inputs = g.getInputList().stream().filter(v -> !initializers.containsKey(v.getName()) && !integers.containsKey(v.getName())).toList();
        if (inputs.size() != 1) throw new FileFormatException(file, "the graph has " + inputs.size() + " inputs; cnn4j reads models of one image input");
        input = inputShape(inputs.getFirst());
        OnnxMl.TensorShapeProto.Dimension first = inputs.getFirst().getType().getTensorType().getShape().getDim(0);
        if (first.hasDimValue() && first.getDimValue() > 0) batch = first.getDimValue();
        builder.input(input.dims());
        producers.put(inputs.getFirst().getName(), Model.INPUT);
        shapes.put(inputs.getFirst().getName(), input);
        String last = null;
        Set<String> graphOutputs = new HashSet<>();
        for (OnnxMl.ValueInfoProto v : g.getOutputList()) graphOutputs.add(v.getName());
        used.addAll(graphOutputs);
        for (OnnxMl.NodeProto n : g.getNodeList()) used.addAll(n.getInputList());
        List<OnnxMl.NodeProto> computed = new ArrayList<>(); // the nodes but Constant, whose values join the initializers
        for (int i = 0; i < g.getNodeCount(); i++) {
            OnnxMl.NodeProto n = g.getNode(i);
            boolean standard = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
            if (standard && n.getOpType().equals("Constant")) constant(n, i);
            else if (!standard || !folded(n)) computed.add(n);
        }
        OnnxPatterns.Fused nodes = OnnxPatterns.fuse(computed, initializers, integers, graphOutputs);
        fused = nodes.made();
        if (g.getOutputCount() != 1) throw new FileFormatException(file, "the graph has " + g.getOutputCount() + " outputs; cnn4j reads models of one");
        List<OnnxMl.NodeProto> list = nodes.nodes();
        OnnxMl.NodeProto tail = list.isEmpty() ? null : list.getLast();
        boolean probabilities = tail != null && list.size() > 1 && (tail.getOpType().equals("Softmax") || tail.getOpType().equals("LogSoftmax"))
                && tail.getDomain().isEmpty() && tail.getOutputCount() == 1 && tail.getOutput(0).equals(g.getOutput(0).getName());
        for (int i = 0; i < list.size() - (probabilities ? 1 : 0); i++) {
            OnnxMl.NodeProto n = list.get(i);
            try {
                last = node(n, i);
            } catch (IllegalArgumentException | IllegalStateException e) { // a layer's refusal of the node's attributes
                throw refused(n.getName().isEmpty() && n.getOutputCount() > 0 ? n.getOutput(0) : n.getName(), n.getOpType(), e);
            }
        }
        if (probabilities) logits(tail, list.size() - 1);
        String output = producers.get(g.getOutput(0).getName());
        if (output == null || !output.equals(last)) {
            throw new FileFormatException(file, "the graph's output '" + g.getOutput(0).getName() + "' is not made by its last node");
        }
        for (OnnxMl.StringStringEntryProto p : proto.getMetadataPropsList()) {
            if (!p.getKey().equals("cnn4j.seed")) continue;
            try {
                builder.seed(Long.parseLong(p.getValue().trim()));
            } catch (NumberFormatException e) {
                throw new FileFormatException(file, "bad cnn4j.seed metadata '" + p.getValue() + "'");
            }
        }
        Graph model;
        try {
            model = builder.loss(new SoftmaxCrossEntropy()).initialise(false).build(backend);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new FileFormatException(file, "the graph does not fit together: " + e.getMessage());
        }
        try {
            for (Parameter p : model.parameters()) write(model, p.name(), p.value());
            for (Layer.State s : model.state()) if (weights.containsKey(s.name())) write(model, s.name(), s.value());
        } catch (FileFormatException | RuntimeException e) {
            model.close();
            throw e;
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (OnnxMl.StringStringEntryProto p : proto.getMetadataPropsList()) metadata.put(p.getKey(), p.getValue());
        return new Imported(model, data(proto, model), java.util.Collections.unmodifiableMap(metadata));
    }

    private void write(Model model, String name, org.cnn4j.tensor.Tensor target) throws FileFormatException {
        float[] v = weights.get(name);
        if (v == null) throw new FileFormatException(file, "no weights for '" + name + "'");
        if (v.length != target.shape().size()) {
            throw new FileFormatException(file, "'" + name + "' has " + v.length + " values, the layer needs " + target.shape());
        }
        model.backend().write(target, v);
    }

    private DataInfo data(OnnxMl.ModelProto proto, Model model) throws FileFormatException {
        for (OnnxMl.StringStringEntryProto p : proto.getMetadataPropsList()) {
            if (!p.getKey().equals(ModelFile.DATA_KEY)) continue;
            try {
                return DataInfo.fromConfig(new Settings("the ONNX model's cnn4j.data", Json.readObject(p.getValue())));
            } catch (IllegalArgumentException e) {
                throw new FileFormatException(file, "bad cnn4j.data metadata: " + e.getMessage());
            }
        }
        int classes = model.outputShape().size(), channels = input.rank() == 3 ? input.dim(0) : 1;
        return new DataInfo(file.getFileName().toString(), IntStream.range(0, classes).mapToObj(Integer::toString).toList(), Normalization.identity(channels));
    }

    // ---------------------------------------------------------------- nodes

    /** Adds the node's layer; returns its cnn4j name. */
    private String node(OnnxMl.NodeProto n, int index) throws FileFormatException {
        String name = name(n, index);
        String op = n.getOpType();
        if (!n.getDomain().isEmpty() && !n.getDomain().equals("ai.onnx")) throw unsupported(n, name, "the operator domain '" + n.getDomain() + "'");
        if (op.startsWith("cnn4j.") && !fused.contains(n)) throw unsupported(n, name, "the operator");
        for (int i = 0; i < n.getInputCount(); i++) {
            if (pooled.contains(n.getInput(i)) && !List.of("Flatten", OnnxPatterns.FLATTEN, "Gemm", "Reshape", "Squeeze").contains(op)) {
                throw unsupported(n, name, "a global average pool's (c, 1, 1) output taken other than by Flatten, Reshape, Squeeze or Gemm");
            }
        }
        Shape inShape = n.getInputCount() > 0 ? shapes.get(n.getInput(0)) : null;
        int rank = inShape == null ? 3 : inShape.rank();
        Layer layer;
        List<String> from = new ArrayList<>();
        Shape padded = null; // the input's shape after a ZeroPad2d this node put before its layer
        switch (op) {
            case "Conv" -> {
                Tensor w = initializer(n, name, 1, "W");
                if (w.dims().length != 4) throw unsupported(n, name, "a weight of rank " + w.dims().length + " (2-D convolutions only)");
                long groups = integer(n, "group", 1);
                // group ≤ the filters, so the input channels (W's dim 1 × group) fit the tensor's checked size
                if (groups < 1 || w.dims()[0] % groups != 0) throw unsupported(n, name, "group " + groups + " for " + w.dims()[0] + " filters");
                int group = (int) groups;
                int[] strides = pair(n, "strides", 1), dilations = pair(n, "dilations", 1);
                int[] all = pads(n, name, inShape, new int[] {w.dims()[2], w.dims()[3]}, strides, dilations), pads = {all[0], all[1]};
                String x = value(n, name, 0);
                if (all[0] != all[2] || all[1] != all[3]) { // uneven: zero padding first, then the convolution unpadded
                    ZeroPad2d pad = new ZeroPad2d(all[1], all[3], all[0], all[2]);
                    String padName = unique(name + ".pad");
                    padded = plan(op, pad, padName, inShape == null ? List.of() : List.of(inShape));
                    builder.add(padName, pad, x);
                    x = padName;
                    pads = new int[2];
                }
                Tensor b = n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? initializer(n, name, 2, "B") : null;
                layer = new Conv2d(w.dims()[1] * group, w.dims()[0], w.dims()[2], w.dims()[3]).groups(group).padding(pads[0], pads[1])
                        .stride(strides[0], strides[1]).dilation(dilations[0], dilations[1]).bias(b != null);
                weights.put(name + ".weight", w.values());
                if (b != null) weights.put(name + ".bias", b.values());
                from.add(x);
            }
            case "Pad" -> layer = pad(n, name, inShape, from);
            case "Gemm" -> {
                if (real(n, "alpha", 1) != 1 || real(n, "beta", 1) != 1 || integer(n, "transA", 0) != 0) {
                    throw unsupported(n, name, "alpha, beta other than 1 or transA (only Gemm as a dense layer)");
                }
                Tensor w = initializer(n, name, 1, "B");
                if (w.dims().length != 2) throw unsupported(n, name, "a weight of rank " + w.dims().length);
                boolean transB = integer(n, "transB", 0) != 0;
                int out = transB ? w.dims()[0] : w.dims()[1], in = transB ? w.dims()[1] : w.dims()[0];
                Tensor c = n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? initializer(n, name, 2, "C") : null;
                if (c != null && c.values().length != out) throw unsupported(n, name, "a bias C of " + c.values().length + " values for " + out + " outputs");
                layer = new Dense(in, out).bias(c != null);
                weights.put(name + ".weight", transB ? w.values() : transpose(w.values(), in, out));
                if (c != null) weights.put(name + ".bias", c.values());
                from.add(value(n, name, 0));
            }
            case "BatchNormalization" -> {
                if (integer(n, "training_mode", 0) != 0 || n.getOutputCount() > 1) throw unsupported(n, name, "training mode (inference form only)");
                String x = value(n, name, 0);
                int c = initializer(n, name, 1, "scale").values().length;
                layer = (rank == 1 ? new BatchNorm1d(c) : new BatchNorm2d(c))
                        .eps(real(n, "epsilon", 1e-5));
                weights.put(name + ".weight", initializer(n, name, 1, "scale").values());
                weights.put(name + ".bias", initializer(n, name, 2, "B").values());
                weights.put(name + ".running_mean", initializer(n, name, 3, "mean").values());
                weights.put(name + ".running_var", initializer(n, name, 4, "var").values());
                from.add(x);
            }
            case "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Identity", "Dropout" -> {
                if (op.equals("Dropout") && n.getOutputCount() > 1 && !n.getOutput(1).isEmpty()) throw unsupported(n, name, "the mask output");
                layer = switch (op) {
                    case "Relu" -> new ReLU();
                    case "Sigmoid" -> new Sigmoid();
                    case "Tanh" -> new Tanh();
                    case "LeakyRelu" -> new LeakyReLU(real(n, "alpha", 0.01));
                    default -> new Identity();
                };
                from.add(value(n, name, 0));
            }
            case OnnxPatterns.SILU, OnnxPatterns.GELU, OnnxPatterns.SCALED_TANH -> {
                layer = switch (op) {
                    case OnnxPatterns.SILU -> new SiLU();
                    case OnnxPatterns.GELU -> new GELU();
                    default -> new ScaledTanh();
                };
                from.add(value(n, name, 0));
            }
            case OnnxPatterns.SUBSAMPLING -> { // AveragePool, Mul by β·k², Add b
                int block = (int) integer(n, "block", 1);
                float[] scale = initializer(n, name, 1, "scale").values().clone();
                for (int i = 0; i < scale.length; i++) scale[i] /= block * block;
                layer = new Subsampling(block);
                weights.put(name + ".beta", scale);
                weights.put(name + ".bias", initializer(n, name, 2, "bias").values());
                from.add(value(n, name, 0));
            }
            case "Softmax" -> {
                long axis = integer(n, "axis", -1);
                if (rank != 1 || (axis != 1 && axis != -1)) throw unsupported(n, name, "axis " + axis + " of a rank " + (rank + 1) + " value (softmax over the classes of (batch, classes) only)");
                layer = new Softmax();
                from.add(value(n, name, 0));
            }
            case "MaxPool", "AveragePool" -> {
                // the indices (torch.export's max_pool2d_with_indices names them) only where something takes them
                if (integer(n, "storage_order", 0) != 0 || (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty() && used.contains(n.getOutput(1)))) {
                    throw unsupported(n, name, "indices");
                }
                int[] k = ints(n, "kernel_shape"), strides = pair(n, "strides", 1), dilations = pair(n, "dilations", 1);
                if (k == null || k.length != 2) throw unsupported(n, name, "a kernel_shape other than 2-D");
                if (op.equals("AveragePool") && (dilations[0] != 1 || dilations[1] != 1)) throw unsupported(n, name, "an average pooling's dilations");
                int[] pads = pads(n, name, inShape, k, strides, dilations);
                boolean unpadded = pads[0] == 0 && pads[1] == 0 && pads[2] == 0 && pads[3] == 0; // then either count is the same
                layer = (op.equals("MaxPool") ? new MaxPool2d(k[0], k[1]).dilation(dilations[0], dilations[1])
                        : new AvgPool2d(k[0], k[1]).countIncludePad(unpadded || integer(n, "count_include_pad", 0) != 0))
                        .stride(strides[0], strides[1]).padding(pads[0], pads[1], pads[2], pads[3]).ceilMode(integer(n, "ceil_mode", 0) != 0);
                from.add(value(n, name, 0));
            }
            case "GlobalAveragePool" -> {
                layer = new GlobalAvgPool2d();
                from.add(value(n, name, 0));
                pooled(n);
            }
            case "GlobalMaxPool" -> { // nn.AdaptiveMaxPool2d(1): a max pooling over the whole image, (c, 1, 1)
                if (inShape == null || inShape.rank() != 3) throw unsupported(n, name, "a global max pooling of a value other than (batch, c, h, w) images");
                layer = new MaxPool2d(inShape.dim(1), inShape.dim(2));
                from.add(value(n, name, 0));
            }
            case "ReduceMean" -> { // PyTorch's x.mean((2, 3)): a global average pooling
                if (inShape == null || inShape.rank() != 3) throw unsupported(n, name, "a mean of a value other than (batch, c, h, w) images");
                long[] axes = axes(n);
                Set<Long> over = axesOfImages(axes);
                if (axes == null || axes.length != 2 || !over.equals(Set.of(2L, 3L))) {
                    throw unsupported(n, name, "a mean over axes " + (axes == null ? "computed, or all" : java.util.Arrays.toString(axes)) + " (only over h and w)");
                }
                layer = new GlobalAvgPool2d();
                from.add(value(n, name, 0));
                if (integer(n, "keepdims", 1) != 0) pooled(n);
            }
            case "Reshape" -> { // PyTorch's x.reshape(-1, n) or, exported at a fixed batch, x.view(batch, -1)
                long[] target = integers.get(n.getInputCount() > 1 ? n.getInput(1) : "");
                if (target == null) throw unsupported(n, name, "a shape computed in the graph (other than PyTorch's x.view(x.size(0), -1))");
                if (integer(n, "allowzero", 0) != 0 && java.util.Arrays.stream(target).anyMatch(d -> d == 0)) {
                    throw unsupported(n, name, "a reshape to " + java.util.Arrays.toString(target) + " with allowzero (a dimension of 0)");
                }
                if (inShape == null) throw unsupported(n, name, "an input of unknown shape");
                boolean keepsBatch = target.length > 0 && (target[0] == 0 || target[0] == -1 || target[0] == batch);
                boolean flat = target.length == 2 && keepsBatch && (target[1] == -1 ? target[0] != -1 : target[1] == inShape.size());
                boolean same = keepsBatch && target.length == inShape.rank() + 1
                        && IntStream.range(0, inShape.rank()).allMatch(i -> target[i + 1] == inShape.dim(i) || (target[i + 1] == 0 && target[0] != -1));
                if (!flat && !same) throw unsupported(n, name, "a reshape to " + java.util.Arrays.toString(target) + " of " + inShape + " (only flattening each sample)");
                layer = same ? new Identity() : new Flatten();
                from.add(value(n, name, 0));
            }
            case "Squeeze" -> { // x.squeeze(-1).squeeze(-1) or x.squeeze((2, 3)) of a pooled (c, 1, 1) value: a flattening
                long[] axes = axes(n);
                boolean pooledInput = pooled.contains(n.getInput(0)), unit = inShape != null && inShape.rank() == 3 && inShape.dim(1) == 1 && inShape.dim(2) == 1;
                Set<Long> over = axesOfImages(axes);
                if (!(pooledInput || unit) || axes == null || axes.length != over.size() || !Set.of(2L, 3L).containsAll(over) || over.isEmpty()) {
                    throw unsupported(n, name, "a squeeze of " + (axes == null ? "every unit axis" : "axes " + java.util.Arrays.toString(axes)) + " of "
                            + (pooledInput ? "a pooled value" : String.valueOf(inShape)) + " (only of h and w, both 1)");
                }
                if (over.size() == 1) { // the first of two: (c, 1) in ONNX, still (c) or (c, 1, 1) here; the second makes it flat
                    pooled(n);
                    layer = new Identity();
                } else {
                    layer = new Flatten();
                }
                from.add(value(n, name, 0));
            }
            case OnnxPatterns.FLATTEN -> {
                layer = new Flatten();
                from.add(value(n, name, 0));
            }
            case "Flatten" -> {
                if (integer(n, "axis", 1) != 1) throw unsupported(n, name, "axis " + integer(n, "axis", 1) + " (the batch stays the first axis)");
                layer = new Flatten();
                from.add(value(n, name, 0));
            }
            case "Add", "Concat" -> {
                if (n.getInputCount() != 2 && op.equals("Add")) throw unsupported(n, name, n.getInputCount() + " inputs");
                if (op.equals("Concat") && integer(n, "axis", 0) != 1) throw unsupported(n, name, "axis " + integer(n, "axis", 0) + " (channels only)");
                for (int i = 0; i < n.getInputCount(); i++) {
                    if (initializers.containsKey(n.getInput(i))) throw unsupported(n, name, "a constant input '" + n.getInput(i) + "'");
                    from.add(value(n, name, i));
                }
                layer = op.equals("Add") ? new Add() : from.size() == 1 ? new Identity() : new Concat(); // a Concat of one value is that value
            }
            default -> throw unsupported(n, name, "the operator");
        }
        if (n.getOutputCount() < 1) throw new FileFormatException(file, "node '" + n.getName() + "' (" + op + ") has no output");
        List<Shape> inputShapes = new ArrayList<>();
        for (int i = 0; i < (layer instanceof Merge ? n.getInputCount() : 1); i++) inputShapes.add(shapes.get(n.getInput(i)));
        Shape out = plan(op, layer, name, padded != null ? List.of(padded) : inputShapes);
        try {
            builder.add(name, layer, from.toArray(String[]::new));
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw refused(name, op, e);
        }
        producers.put(n.getOutput(0), name);
        if (out != null) shapes.put(n.getOutput(0), out);
        return name;
    }

    /** A cnn4j name for the node: its own (or its output's) with characters a parameter name keeps, unique. */
    private String name(OnnxMl.NodeProto n, int index) {
        String base = !n.getName().isEmpty() ? n.getName() : n.getOutputCount() > 0 ? n.getOutput(0) : "node" + index;
        base = base.replaceAll("^/+", "").replaceAll("[^A-Za-z0-9_.-]", ".");
        if (base.isEmpty() || base.equals(Model.INPUT)) base = "node" + index;
        return unique(base);
    }

    /** {@code base}, or base.2, base.3, … where a node already has that name. */
    private String unique(String base) {
        String name = base;
        for (int k = 2; !names.add(name); k++) name = base + "." + k;
        return name;
    }

    /** A Pad node of zeros around the images, as a {@link ZeroPad2d} (pads from its input, or its attribute before opset 11). */
    private Layer pad(OnnxMl.NodeProto n, String name, Shape in, List<String> from) throws FileFormatException {
        OnnxMl.AttributeProto mode = attribute(n, "mode");
        if (mode != null && !mode.getS().toStringUtf8().equals("constant")) throw unsupported(n, name, "mode " + mode.getS().toStringUtf8());
        if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
            Tensor value = initializers.get(n.getInput(2));
            if (value == null || value.values().length != 1 || value.values()[0] != 0) throw unsupported(n, name, "a padding value other than 0");
        }
        if (real(n, "value", 0) != 0) throw unsupported(n, name, "a padding value other than 0");
        long[] p = n.getInputCount() > 1 ? integers.get(n.getInput(1)) : null;
        if (p == null && n.getInputCount() <= 1) {
            int[] attribute = ints(n, "pads");
            if (attribute != null) p = java.util.Arrays.stream(attribute).asLongStream().toArray();
        }
        if (p == null) throw unsupported(n, name, "pads computed in the graph");
        if (in == null || in.rank() != 3 || p.length != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0) {
            throw unsupported(n, name, "pads " + java.util.Arrays.toString(p) + " (only the height and width of images)");
        }
        for (long v : p) if (v < 0 || v > ZeroPad2d.MAX_PAD) throw unsupported(n, name, "pads " + java.util.Arrays.toString(p) + " (from 0 to " + ZeroPad2d.MAX_PAD + ")");
        from.add(value(n, name, 0));
        return new ZeroPad2d((int) p[3], (int) p[7], (int) p[2], (int) p[6]);
    }

    /** Marks the node's output as a pooled (c, 1, 1) value, (c) in cnn4j. */
    private void pooled(OnnxMl.NodeProto n) {
        pooled.add(n.getOutputCount() > 0 ? n.getOutput(0) : "");
    }

    /** A node's axes: its attribute (to opset 12 for Squeeze, 17 for ReduceMean) or its int64 input 1; null where neither is given. */
    private long[] axes(OnnxMl.NodeProto n) {
        OnnxMl.AttributeProto a = attribute(n, "axes");
        if (a != null) return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
        return n.getInputCount() > 1 ? integers.get(n.getInput(1)) : null;
    }

    /** Axes of a (batch, c, h, w) value, the negative ones counted from the end; empty for null. */
    private static Set<Long> axesOfImages(long[] axes) {
        Set<Long> over = new HashSet<>();
        if (axes != null) for (long x : axes) over.add(x < 0 ? x + 4 : x);
        return over;
    }

    /** The layer's output shape at its inputs' shapes, checked as the graph will check it; null where an input's shape is unknown. */
    private Shape plan(String op, Layer layer, String name, List<Shape> inputs) throws FileFormatException {
        if (inputs.isEmpty() || inputs.stream().anyMatch(java.util.Objects::isNull)) return null;
        Shape out;
        try {
            out = layer.plan(name, inputs).output();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw refused(name, op, e);
        }
        if (out.size() > ModelFile.MAX_VALUES_PER_SAMPLE) {
            throw new FileFormatException(file, "node '" + name + "' (" + op + ") makes " + out.size() + " values per sample " + out
                    + ", more than cnn4j's limit of " + ModelFile.MAX_VALUES_PER_SAMPLE);
        }
        return out;
    }

    /** A layer's refusal of what node {@code name} asks, as the file's error. */
    private FileFormatException refused(String name, String op, RuntimeException e) {
        return new FileFormatException(file, "node '" + name + "' (" + op + "): " + e.getMessage());
    }

    /**
     * A Constant node's value as a constant of its output's name: a float tensor or one float as an
     * initializer; an int64 tensor, int64 values or one as integers.
     */
    private void constant(OnnxMl.NodeProto n, int index) throws FileFormatException {
        String name = name(n, index);
        OnnxMl.AttributeProto v = attribute(n, "value"), f = attribute(n, "value_float");
        if (n.getOutputCount() != 1) throw unsupported(n, name, n.getOutputCount() + " outputs");
        String out = n.getOutput(0);
        OnnxMl.AttributeProto ints = attribute(n, "value_ints"), one = attribute(n, "value_int");
        if (v != null && v.hasT() && v.getT().getDataType() == OnnxMl.TensorProto.DataType.INT64.getNumber()) integers(out, v.getT().toBuilder().setName(out).build());
        else if (v != null && v.hasT()) initializers.put(out, tensor(v.getT().toBuilder().setName(out).build()));
        else if (f != null) initializers.put(out, new Tensor(new int[0], new float[] {f.getF()}));
        else if (one != null) integers(out, new IntegerFolding.Ints(new long[] {one.getI()}, new long[0]));
        else if (ints != null) {
            if (ints.getIntsCount() > MAX_INTEGERS) throw unsupported(n, name, ints.getIntsCount() + " int64 values (at most " + MAX_INTEGERS + ")");
            integers.put(out, ints.getIntsList().stream().mapToLong(Long::longValue).toArray());
        }
        else throw unsupported(n, name, "a constant other than a float or int64 tensor, one float or int64 values");
    }

    /**
     * A node of constants only, as a constant: an Identity of a constant is another name for it
     * (PyTorch's exporter shares one initializer among parameters of equal values this way); of int64
     * constants (shapes, axes, pads), ConstantOfShape, Reshape, Concat, Slice, Transpose and a Cast to
     * int64 compute theirs ({@link IntegerFolding}), as exporters that do not fold constants write a
     * shape or, PyTorch's, a padding. False, taking nothing, for any other node.
     */
    private boolean folded(OnnxMl.NodeProto n) throws FileFormatException {
        if (n.getOutputCount() != 1 || n.getInputCount() == 0 || n.getInput(0).isEmpty()) return false;
        String out = n.getOutput(0), op = n.getOpType();
        for (String in : n.getInputList()) {
            if (!in.isEmpty() && !integers.containsKey(in) && !(initializers.containsKey(in) && op.equals("Identity"))) return false;
        }
        if (op.equals("Identity") && n.getInputCount() == 1 && initializers.containsKey(n.getInput(0))) {
            initializers.put(out, initializers.get(n.getInput(0)));
            return true;
        }
        try {
            IntegerFolding.Ints x = integers(n.getInput(0));
            IntegerFolding.Ints v = switch (op) {
                case "Identity" -> n.getInputCount() == 1 ? x : null;
                case "Cast" -> integer(n, "to", 0) == OnnxMl.TensorProto.DataType.INT64.getNumber() ? x : null;
                case "ConstantOfShape" -> {
                    OnnxMl.AttributeProto value = attribute(n, "value"); // absent: float zeros, no int64 constant
                    if (value == null || !value.hasT() || value.getT().getDataType() != OnnxMl.TensorProto.DataType.INT64.getNumber()) yield null;
                    long[] one = longs(value.getT().toBuilder().setName(out).build());
                    if (one.length != 1) throw new IllegalArgumentException("a value of " + one.length + " elements (one needed)");
                    yield IntegerFolding.constantOfShape(x.values(), one[0], MAX_INTEGERS);
                }
                case "Reshape" -> {
                    long[] target = n.getInputCount() > 1 ? integers.get(n.getInput(1)) : longs(n, "shape");
                    yield target == null ? null : IntegerFolding.reshape(x, target, integer(n, "allowzero", 0) != 0);
                }
                case "Concat" -> {
                    IntegerFolding.Ints[] parts = new IntegerFolding.Ints[n.getInputCount()];
                    for (int i = 0; i < parts.length; i++) parts[i] = integers(n.getInput(i));
                    yield IntegerFolding.concat(parts, integer(n, "axis", 0), MAX_INTEGERS);
                }
                case "Slice" -> {
                    boolean attributes = n.getInputCount() == 1; // to opset 9
                    long[] starts = attributes ? longs(n, "starts") : input(n, 1), ends = attributes ? longs(n, "ends") : input(n, 2);
                    if (starts == null || ends == null) throw new IllegalArgumentException("no starts or ends");
                    yield IntegerFolding.slice(x, starts, ends, attributes ? longs(n, "axes") : input(n, 3), attributes ? null : input(n, 4));
                }
                case "Transpose" -> IntegerFolding.transpose(x, longs(n, "perm"));
                default -> null;
            };
            if (v == null) return false;
            integers(out, v);
            return true;
        } catch (IllegalArgumentException e) {
            throw new FileFormatException(file, "node '" + n.getName() + "' (" + op + ") of int64 constants: " + e.getMessage());
        }
    }

    /** An int64 constant with its dimensions. */
    private IntegerFolding.Ints integers(String name) {
        long[] v = integers.get(name);
        return new IntegerFolding.Ints(v, integerDims.getOrDefault(name, new long[] {v.length}));
    }

    private void integers(String name, IntegerFolding.Ints v) {
        integers.put(name, v.values());
        integerDims.put(name, v.dims());
    }

    private void integers(String name, OnnxMl.TensorProto t) throws FileFormatException {
        long[] v = longs(t);
        integers(name, new IntegerFolding.Ints(v, t.getDimsList().stream().mapToLong(Long::longValue).toArray()));
    }

    /** Optional int64 input i of a node: null where the node has none or leaves it empty. */
    private long[] input(OnnxMl.NodeProto n, int i) {
        return n.getInputCount() > i && !n.getInput(i).isEmpty() ? integers.get(n.getInput(i)) : null;
    }

    /** An ints attribute as it is (negative values too); null where absent. */
    private static long[] longs(OnnxMl.NodeProto n, String key) {
        OnnxMl.AttributeProto a = attribute(n, key);
        return a == null ? null : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * The graph's final Softmax or LogSoftmax over the classes, read as the classifier's own: cnn4j's
     * models output logits, which the cross-entropy loss and the classifier's probabilities put
     * through the softmax (a Softmax layer there would apply it twice). The graph's output is then
     * the node's input.
     */
    private void logits(OnnxMl.NodeProto n, int index) throws FileFormatException {
        String name = name(n, index), from = value(n, name, 0);
        Shape in = shapes.get(n.getInput(0));
        long axis = integer(n, "axis", -1);
        if (in == null || in.rank() != 1 || (axis != 1 && axis != -1)) {
            throw unsupported(n, name, "axis " + axis + " of a value other than (batch, classes) (a final softmax over the classes only)");
        }
        producers.put(n.getOutput(0), from);
    }

    /** The cnn4j node making input i of the node. */
    private String value(OnnxMl.NodeProto n, String name, int i) throws FileFormatException {
        if (n.getInputCount() <= i) throw new FileFormatException(file, "node '" + n.getName() + "' (" + n.getOpType() + ") lacks input " + i);
        String v = n.getInput(i);
        String node = producers.get(v);
        if (node == null) {
            throw new FileFormatException(file, "node '" + n.getName() + "' (" + n.getOpType() + "): input '" + v
                    + (initializers.containsKey(v) ? "' is a constant where cnn4j needs a computed value" : "' is made by no earlier node"));
        }
        return node;
    }

    private Tensor initializer(OnnxMl.NodeProto n, String name, int i, String what) throws FileFormatException {
        if (n.getInputCount() <= i) throw new FileFormatException(file, "node '" + n.getName() + "' (" + n.getOpType() + ") lacks its " + what);
        Tensor t = initializers.get(n.getInput(i));
        if (t == null) throw unsupported(n, name, "a computed " + what + " ('" + n.getInput(i) + "'; weights must be initializers)");
        return t;
    }

    private FileFormatException unsupported(OnnxMl.NodeProto n, String name, String what) {
        return new FileFormatException(file, "node '" + (n.getName().isEmpty() ? name : n.getName()) + "' (" + n.getOpType() + "): " + what
                + " is not supported by cnn4j");
    }

    // ---------------------------------------------------------------- attributes and tensors

    private static OnnxMl.AttributeProto attribute(OnnxMl.NodeProto n, String key) {
        for (OnnxMl.AttributeProto a : n.getAttributeList()) if (a.getName().equals(key)) return a;
        return null;
    }

    private static long integer(OnnxMl.NodeProto n, String key, long otherwise) {
        OnnxMl.AttributeProto a = attribute(n, key);
        return a == null ? otherwise : a.getI();
    }

    private static double real(OnnxMl.NodeProto n, String key, double otherwise) {
        OnnxMl.AttributeProto a = attribute(n, key);
        return a == null ? otherwise : a.getF();
    }

    private int[] ints(OnnxMl.NodeProto n, String key) throws FileFormatException {
        OnnxMl.AttributeProto a = attribute(n, key);
        if (a == null) return null;
        int[] v = new int[a.getIntsCount()];
        for (int i = 0; i < v.length; i++) {
            long x = a.getInts(i);
            if (x < 0 || x > 1 << 16) throw new FileFormatException(file, "node '" + n.getName() + "': " + key + " value " + x + " out of range");
            v[i] = (int) x;
        }
        return v;
    }

    private int[] pair(OnnxMl.NodeProto n, String key, int otherwise) throws FileFormatException {
        int[] v = ints(n, key);
        if (v == null) return new int[] {otherwise, otherwise};
        if (v.length != 2) throw new FileFormatException(file, "node '" + n.getName() + "': " + key + " has " + v.length + " values, 2-D needs 2");
        return v;
    }

    /**
     * (top, left, bottom, right) padding of a Conv or pooling node: its pads, or what its auto_pad
     * makes of its input (VALID none; SAME_UPPER and SAME_LOWER the padding that gives ceil(size /
     * stride) outputs, the odd one at the end or the start).
     */
    private int[] pads(OnnxMl.NodeProto n, String name, Shape in, int[] kernel, int[] strides, int[] dilations) throws FileFormatException {
        OnnxMl.AttributeProto a = attribute(n, "auto_pad");
        String mode = a == null ? "NOTSET" : a.getS().toStringUtf8();
        switch (mode) {
            case "NOTSET" -> {
                int[] p = ints(n, "pads");
                if (p == null) return new int[4];
                if (p.length != 4) throw new FileFormatException(file, "node '" + n.getName() + "': pads has " + p.length + " values, 2-D needs 4");
                return p;
            }
            case "VALID" -> {
                return new int[4];
            }
            case "SAME_UPPER", "SAME_LOWER" -> {
                if (in == null || in.rank() != 3) throw unsupported(n, name, "auto_pad " + mode + " on an input of unknown image size");
                int[] p = new int[4];
                for (int axis = 0; axis < 2; axis++) {
                    long size = in.dim(axis + 1), out = (size + strides[axis] - 1) / strides[axis];
                    long total = Math.max(0, (out - 1) * strides[axis] + (long) (kernel[axis] - 1) * dilations[axis] + 1 - size);
                    long begin = mode.equals("SAME_UPPER") ? total / 2 : total - total / 2;
                    p[axis] = (int) begin;
                    p[axis + 2] = (int) (total - begin);
                }
                return p;
            }
            default -> throw unsupported(n, name, "auto_pad " + mode);
        }
    }

    /** (top, left) of pads [top, left, bottom, right] that must equal (bottom, right): a convolution pads both sides alike. */
    private int[] symmetric(OnnxMl.NodeProto n, String name, int[] p) throws FileFormatException {
        if (p[0] != p[2] || p[1] != p[3]) throw unsupported(n, name, "asymmetric pads " + java.util.Arrays.toString(p));
        return new int[] {p[0], p[1]};
    }

    /**
     * A tensor's bytes where they are not in its typed fields: its raw_data, or, for a tensor stored
     * outside the file (ONNX's external data, as PyTorch 2.9 and newer write weights by default:
     * {@code model.onnx.data} beside {@code model.onnx}), the {@code bytes} it needs from the file
     * its {@code location} names, at its {@code offset}. The location must be a relative path to a
     * file in the model's folder or below (no {@code ..}, no link out of it); the offset, the length
     * and the file's size are checked before anything is read. Null where the typed fields hold the values.
     */
    private ByteBuffer raw(OnnxMl.TensorProto t, String what, long bytes) throws FileFormatException {
        if (t.getDataLocation() != OnnxMl.TensorProto.DataLocation.EXTERNAL) return t.getRawData().isEmpty() ? null : t.getRawData().asReadOnlyByteBuffer();
        String location = null;
        long offset = 0, length = -1;
        for (OnnxMl.StringStringEntryProto e : t.getExternalDataList()) {
            try {
                switch (e.getKey()) {
                    case "location" -> location = e.getValue();
                    case "offset" -> offset = Long.parseLong(e.getValue());
                    case "length" -> length = Long.parseLong(e.getValue());
                    default -> { } // checksum and others: not needed to read the values
                }
            } catch (NumberFormatException x) {
                throw new FileFormatException(file, what + ": external data " + e.getKey() + " '" + e.getValue() + "' is not a number");
            }
        }
        if (location == null || location.isEmpty()) throw new FileFormatException(file, what + " is stored outside the file but names no location");
        Path data;
        try {
            Path relative = Path.of(location);
            boolean climbs = false;
            for (Path part : relative) climbs |= part.toString().equals("..");
            if (relative.isAbsolute() || climbs) {
                throw new FileFormatException(file, what + " is stored in '" + location + "'; cnn4j reads external data only from files in the model's folder or below");
            }
            Path folder = file.toAbsolutePath().getParent();
            data = folder.resolve(relative);
            if (!Files.isRegularFile(data)) {
                throw new FileFormatException(file, what + " is stored in " + data + ", which is missing or not a file (copy it beside the .onnx file)");
            }
            if (!data.toRealPath().startsWith(folder.toRealPath())) {
                throw new FileFormatException(file, what + " is stored in '" + location + "', a link to a file outside the model's folder");
            }
        } catch (java.nio.file.InvalidPathException e) {
            throw new FileFormatException(file, what + ": external data location '" + location + "' is not a path");
        } catch (FileFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new FileFormatException(file, what + ": cannot read its external data '" + location + "': " + e.getMessage());
        }
        if (length >= 0 && length != bytes) throw new FileFormatException(file, what + " needs " + bytes + " bytes, its external data length says " + length);
        if (bytes > Integer.MAX_VALUE - 8) throw new FileFormatException(file, what + " holds " + bytes + " bytes; cnn4j reads tensors of less than 2 GiB");
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(data)) {
            long size = channel.size();
            if (offset < 0 || offset > size || bytes > size - offset) {
                throw new FileFormatException(file, what + " needs bytes " + offset + " to " + (offset + bytes) + " of " + data + ", which has " + size);
            }
            return channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, offset, bytes);
        } catch (FileFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new FileFormatException(file, what + ": cannot read " + data + ": " + e.getMessage());
        }
    }

    /** A small int64 tensor's values (a shape, axes, indices): at most {@link #MAX_INTEGERS} of them. */
    private long[] longs(OnnxMl.TensorProto t) throws FileFormatException {
        String name = t.getName();
        long count = 1;
        for (long d : t.getDimsList()) {
            if (d < 0 || d > MAX_INTEGERS) throw new FileFormatException(file, "int64 constant '" + name + "' claims a dimension of " + d);
            count *= d;
        }
        if (count > MAX_INTEGERS) throw new FileFormatException(file, "int64 constant '" + name + "' claims " + count + " values; cnn4j reads at most " + MAX_INTEGERS);
        ByteBuffer raw = raw(t, "int64 constant '" + name + "'", count * 8);
        long stored = raw == null ? t.getInt64DataCount() : raw.remaining() / 8L;
        if (stored != count || (raw != null && raw.remaining() % 8 != 0)) {
            throw new FileFormatException(file, "int64 constant '" + name + "' needs " + count + " values, the file holds "
                    + (raw == null ? stored + " values" : raw.remaining() + " bytes"));
        }
        long[] v = new long[(int) count];
        if (raw == null) {
            for (int i = 0; i < v.length; i++) v[i] = t.getInt64Data(i);
        } else {
            raw.order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(v);
        }
        return v;
    }

    private Tensor tensor(OnnxMl.TensorProto t) throws FileFormatException {
        String name = t.getName();
        if (t.getDataType() != OnnxMl.TensorProto.DataType.FLOAT.getNumber()) {
            throw new FileFormatException(file, "initializer '" + name + "' has data type " + t.getDataType() + "; cnn4j reads float (1)");
        }
        int[] dims = new int[t.getDimsCount()];
        long count = 1;
        for (int i = 0; i < dims.length; i++) {
            long d = t.getDims(i);
            if (d < 0 || d > MAX_ELEMENTS) throw new FileFormatException(file, "initializer '" + name + "' claims a dimension of " + d);
            dims[i] = (int) d;
            count *= d;
            if (count > MAX_ELEMENTS) throw new FileFormatException(file, "initializer '" + name + "' claims more than " + MAX_ELEMENTS + " elements");
        }
        ByteBuffer raw = raw(t, "initializer '" + name + "'", count * 4);
        long stored = raw == null ? t.getFloatDataCount() : raw.remaining() / 4L;
        if (stored != count || (raw != null && raw.remaining() % 4 != 0)) {
            throw new FileFormatException(file, "initializer '" + name + "' of shape " + java.util.Arrays.toString(dims) + " needs " + count
                    + " floats, the file holds " + (raw == null ? t.getFloatDataCount() + " floats" : raw.remaining() + " bytes"));
        }
        float[] values = new float[(int) count];
        if (raw != null) {
            raw.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        } else {
            for (int i = 0; i < values.length; i++) values[i] = t.getFloatData(i);
        }
        return new Tensor(dims, values);
    }

    private Shape inputShape(OnnxMl.ValueInfoProto v) throws FileFormatException {
        if (!v.getType().hasTensorType() || v.getType().getTensorType().getElemType() != OnnxMl.TensorProto.DataType.FLOAT.getNumber()) {
            throw new FileFormatException(file, "input '" + v.getName() + "' is not a float tensor");
        }
        OnnxMl.TensorShapeProto s = v.getType().getTensorType().getShape();
        if (s.getDimCount() != 4 && s.getDimCount() != 2) {
            throw new FileFormatException(file, "input '" + v.getName() + "' has rank " + s.getDimCount() + "; cnn4j reads (batch, c, h, w) or (batch, features)");
        }
        int[] dims = new int[s.getDimCount() - 1];
        long size = 1;
        for (int i = 1; i < s.getDimCount(); i++) {
            OnnxMl.TensorShapeProto.Dimension d = s.getDim(i);
            if (!d.hasDimValue() || d.getDimValue() < 1 || d.getDimValue() > 1 << 16) {
                throw new FileFormatException(file, "input '" + v.getName() + "': dimension " + i + " is " + (d.hasDimValue() ? d.getDimValue() : "'" + d.getDimParam() + "'")
                        + "; all but the batch must be fixed, from 1 to 65536");
            }
            dims[i - 1] = (int) d.getDimValue();
            size *= dims[i - 1];
        }
        if (size > ModelFile.MAX_VALUES_PER_SAMPLE) throw new FileFormatException(file, "input '" + v.getName() + "' of " + size + " values per sample is too large");
        return Shape.of(dims);
    }

    private static float[] transpose(float[] v, int rows, int cols) {
        float[] t = new float[v.length];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c];
        return t;
    }
}
