package org.cnn4j.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;
import org.cnn4j.backend.Activation;
import org.cnn4j.data.DataInfo;
import org.cnn4j.io.AtomicFiles;
import org.cnn4j.io.Json;
import org.cnn4j.layer.ActivationLayer;
import org.cnn4j.layer.Add;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.BatchNorm;
import org.cnn4j.layer.Concat;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.FeatureMapCombination;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.GlobalAvgPool2d;
import org.cnn4j.layer.Identity;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.LayerConfig;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Softmax;
import org.cnn4j.layer.Subsampling;
import org.cnn4j.layer.ZeroPad2d;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.Shape;

/**
 * Writes a model as an ONNX file (opset {@value #OPSET}, IR version {@value #IR_VERSION}) that other
 * runtimes (ONNX Runtime, TensorRT) run in inference: the graph's input {@code input} of shape
 * (batch, c, h, w) with a symbolic batch, one node (or a few standard ones) per layer, named after
 * the layer, the weights as initializers under their cnn4j (= PyTorch) names, the last layer's
 * output as the graph's output (logits unless the model ends in a softmax). Batch normalisation
 * uses its running statistics, dropout is the identity. The data description (class names, mean
 * and standard deviation, preprocessing) goes into the model's metadata, as JSON under
 * {@code cnn4j.data}, and the model's seed under {@code cnn4j.seed} (it draws an unsplit image
 * folder's held-out images, which an evaluation of the ONNX file must draw alike).
 *
 * <p>Layers: Conv2d (Conv), Dense (Gemm with transB, after a Flatten where its input is not flat),
 * BatchNorm1d/2d (BatchNormalization), MaxPool2d (MaxPool) and AvgPool2d (AveragePool with the
 * layer's count_include_pad where it has padding, else 0), both with ceil_mode where the layer
 * rounds up, GlobalAvgPool2d (GlobalAveragePool then Flatten), Flatten, Add, Concat (channels),
 * Softmax, Dropout and Identity (Identity), and the activations: ReLU, LeakyReLU, Sigmoid, Tanh;
 * those the opset lacks written with standard operators: SiLU as x·Sigmoid(x), GELU as x·(1 +
 * Erf(x/√2))/2, ScaledTanh as 1.7159·Tanh(2x/3). LeNet-5's layers too: Subsampling (β·window
 * sum + b per map) as AveragePool times β·k² plus b, and FeatureMapCombination as a Conv whose
 * filters are α_ij·k_ij (the mixing weights applied; importing it gives a plain convolution).
 * {@link OnnxImport} reads all of these forms back into the same layers (but for the map
 * combinations). Any other layer is refused with its name and kind. ZeroPad2d goes out as Pad.
 */
public final class OnnxExport {
    public static final int OPSET = 13;
    public static final int IR_VERSION = 7;

    private final Model model;
    private final OnnxMl.GraphProto.Builder graph = OnnxMl.GraphProto.newBuilder();
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, Shape> shapes = new LinkedHashMap<>();
    private int constants;

    private OnnxExport(Model model) {
        this.model = model;
        for (Parameter p : model.parameters()) {
            values.put(p.name(), p.value().toFloatArray());
            shapes.put(p.name(), p.value().shape());
        }
        for (Layer.State s : model.state()) {
            values.put(s.name(), s.value().toFloatArray());
            shapes.put(s.name(), s.value().shape());
        }
    }

    /** The model as an ONNX model, with {@code data} (may be null) in its metadata. */
    public static OnnxMl.ModelProto toOnnx(Model model, DataInfo data) {
        OnnxExport e = new OnnxExport(model);
        e.build();
        OnnxMl.ModelProto.Builder m = OnnxMl.ModelProto.newBuilder().setIrVersion(IR_VERSION).setProducerName("cnn4j")
                .setGraph(e.graph).addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET));
        if (data != null) m.addMetadataProps(OnnxMl.StringStringEntryProto.newBuilder().setKey("cnn4j.data").setValue(Json.write(data.config())));
        // the seed that drew the held-out images of an unsplit image folder, for eval
        m.addMetadataProps(OnnxMl.StringStringEntryProto.newBuilder().setKey("cnn4j.seed").setValue(Long.toString(model.seed())));
        return m.build();
    }

    /** Writes the model's ONNX file (atomically). */
    public static void write(Path file, Model model, DataInfo data) throws IOException {
        OnnxMl.ModelProto proto = toOnnx(model, data);
        AtomicFiles.write(file, proto::writeTo);
    }

    private void build() {
        graph.setName("cnn4j");
        graph.addInput(valueInfo(Model.INPUT, model.inputShape()));
        List<Layer> layers = model.layers();
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            List<String> inputs = new ArrayList<>(model.inputsOf(i));
            node(layer, inputs, layer.name());
        }
        Layer last = layers.getLast();
        graph.addOutput(valueInfo(last.name(), last.outputShape()));
    }

    private void node(Layer layer, List<String> in, String out) {
        String name = layer.name();
        Map<String, Object> s = layer.config().settings();
        switch (layer) {
            case Conv2d conv -> {
                int[] k = (int[]) s.get("kernel"), pad = (int[]) s.get("padding"), stride = (int[]) s.get("stride"), dil = (int[]) s.get("dilation");
                List<String> inputs = new ArrayList<>(List.of(in.getFirst(), initializer(name + ".weight")));
                if (conv.bias() != null) inputs.add(initializer(name + ".bias"));
                add("Conv", name, inputs, out, ints("kernel_shape", k), ints("pads", pad[0], pad[1], pad[0], pad[1]), ints("strides", stride),
                        ints("dilations", dil), integer("group", conv.groups()));
            }
            case Dense dense -> {
                String x = in.getFirst();
                if (layer.inputShape().rank() != 1) x = add("Flatten", name + ".flatten", List.of(x), name + ".flat", integer("axis", 1));
                List<String> inputs = new ArrayList<>(List.of(x, initializer(name + ".weight")));
                if (dense.bias() != null) inputs.add(initializer(name + ".bias"));
                add("Gemm", name, inputs, out, integer("transB", 1));
            }
            case BatchNorm bn -> add("BatchNormalization", name, List.of(in.getFirst(), initializer(name + ".weight"), initializer(name + ".bias"),
                    initializer(name + ".running_mean"), initializer(name + ".running_var")), out, real("epsilon", bn.eps()));
            case MaxPool2d pool -> pool("MaxPool", name, s, in.getFirst(), out, null);
            // Without padding either count gives the same divisor; 0 then, which also suits runtimes that divide a
            // ceil-mode window reaching past the input by the whole window under count_include_pad (ONNX Runtime 1.22).
            case AvgPool2d pool -> pool("AveragePool", name, s, in.getFirst(), out,
                    integer("count_include_pad", s.containsKey("countIncludePad") || pool.geometry().unpadded() ? 0 : 1));
            case Subsampling sub -> { // β·(window sum) + b = AveragePool · β·k² + b
                int k = (int) s.get("block"), c = layer.outputShape().dim(0);
                float[] beta = values.remove(name + ".beta"), scale = new float[c];
                for (int i = 0; i < c; i++) scale[i] = beta[i] * k * k;
                String pooled = add("AveragePool", name + ".pool", List.of(in.getFirst()), name + ".pooled", ints("kernel_shape", k, k), ints("strides", k, k));
                String scaled = add("Mul", name + ".scale", List.of(pooled, initializer(name + ".scale", new int[] {c, 1, 1}, scale)), name + ".scaled");
                add("Add", name, List.of(scaled, initializer(name + ".bias", new int[] {c, 1, 1}, values.remove(name + ".bias"))), out);
            }
            case FeatureMapCombination combination -> { // a convolution with the effective filters α_ij·k_ij
                int maps = (int) s.get("in"), size = (int) s.get("kernel"), pad = (int) s.get("padding"), taps = size * size;
                double[] alpha = combination.mixingWeights();
                float[] kernels = values.remove(name + ".kernel"), filters = new float[kernels.length];
                values.remove(name + ".mix");
                for (int i = 0; i < filters.length; i++) filters[i] = (float) (alpha[i / taps] * kernels[i]);
                String w = initializer(name + ".weight", new int[] {(int) s.get("out"), maps, size, size}, filters);
                add("Conv", name, List.of(in.getFirst(), w, initializer(name + ".bias")), out, ints("kernel_shape", size, size),
                        ints("pads", pad, pad, pad, pad), ints("strides", 1, 1), ints("dilations", 1, 1), integer("group", 1));
            }
            case ZeroPad2d pad -> { // pads: (N, C, H, W) begins then ends
                int[] p = pad.padding();
                add("Pad", name, List.of(in.getFirst(), longs(name + ".pads", 0, 0, p[2], p[0], 0, 0, p[3], p[1])), out);
            }
            case GlobalAvgPool2d g -> {
                String pooled = add("GlobalAveragePool", name + ".pool", List.of(in.getFirst()), name + ".pooled");
                add("Flatten", name, List.of(pooled), out, integer("axis", 1));
            }
            case Flatten f -> add("Flatten", name, List.of(in.getFirst()), out, integer("axis", 1));
            case Add a -> add("Add", name, in, out);
            case Concat c -> add("Concat", name, in, out, integer("axis", 1));
            case Softmax sm -> add("Softmax", name, in, out, integer("axis", 1));
            case Dropout d -> add("Identity", name, in, out);
            case Identity id -> add("Identity", name, in, out);
            case ActivationLayer act -> activation(act.function(), name, in.getFirst(), out);
            default -> {
                LayerConfig c = layer.config();
                throw new IllegalArgumentException("layer '" + name + "' (" + c.type() + ") has no ONNX form in cnn4j's exporter");
            }
        }
    }

    private void activation(Activation f, String name, String x, String out) {
        switch (f.kind()) {
            case IDENTITY -> add("Identity", name, List.of(x), out);
            case RELU -> add("Relu", name, List.of(x), out);
            case SIGMOID -> add("Sigmoid", name, List.of(x), out);
            case TANH -> add("Tanh", name, List.of(x), out);
            case LEAKY_RELU -> add("LeakyRelu", name, List.of(x), out, real("alpha", f.slope()));
            case SILU -> add("Mul", name, List.of(x, add("Sigmoid", name + ".sigmoid", List.of(x), name + ".sigmoid")), out);
            case GELU -> {
                String erf = add("Erf", name + ".erf", List.of(add("Div", name + ".scale", List.of(x, constant(Math.sqrt(2))), name + ".scaled")), name + ".erf");
                String plus = add("Add", name + ".plus", List.of(erf, constant(1)), name + ".plus");
                String half = add("Mul", name + ".half", List.of(x, constant(0.5)), name + ".half");
                add("Mul", name, List.of(half, plus), out);
            }
            case SCALED_TANH -> {
                String inner = add("Mul", name + ".inner", List.of(x, constant(Activation.SCALED_TANH_B)), name + ".inner");
                String tanh = add("Tanh", name + ".tanh", List.of(inner), name + ".tanh");
                add("Mul", name, List.of(tanh, constant(Activation.SCALED_TANH_A)), out);
            }
        }
    }

    private void pool(String op, String name, Map<String, Object> s, String x, String out, OnnxMl.AttributeProto extra) {
        int[] window = (int[]) s.get("window"), stride = (int[]) s.get("stride"), pad = (int[]) s.get("padding");
        List<OnnxMl.AttributeProto> attrs = new ArrayList<>(List.of(ints("kernel_shape", window), ints("strides", stride),
                ints("pads", pad[0], pad[1], pad[pad.length - 2], pad[pad.length - 1]))); // (top, left) or (top, left, bottom, right)
        if (extra != null) attrs.add(extra);
        if (s.containsKey("ceilMode")) attrs.add(integer("ceil_mode", 1));
        if (s.containsKey("dilation")) attrs.add(ints("dilations", (int[]) s.get("dilation")));
        add(op, name, List.of(x), out, attrs.toArray(OnnxMl.AttributeProto[]::new));
    }

    /** Adds a node and returns its output's name. */
    private String add(String op, String name, List<String> inputs, String output, OnnxMl.AttributeProto... attributes) {
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addOutput(output);
        for (OnnxMl.AttributeProto a : attributes) n.addAttribute(a);
        graph.addNode(n);
        return output;
    }

    /** Puts a parameter or state tensor into the graph's initializers once; returns its name. */
    private String initializer(String name) {
        float[] v = values.remove(name);
        if (v != null) graph.addInitializer(tensor(name, shapes.get(name).dims(), v));
        else if (!shapes.containsKey(name)) throw new IllegalStateException("the model has no tensor '" + name + "'");
        return name;
    }

    /** A tensor computed from the model's as an initializer; returns its name. */
    private String initializer(String name, int[] dims, float[] v) {
        graph.addInitializer(tensor(name, dims, v));
        return name;
    }

    /** An int64 vector as an initializer (a Pad's pads); returns its name. */
    private String longs(String name, long... v) {
        graph.addInitializer(OnnxMl.TensorProto.newBuilder().setName(name).setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber())
                .addDims(v.length).addAllInt64Data(java.util.Arrays.stream(v).boxed().toList()));
        return name;
    }

    /** A scalar float constant as an initializer. */
    private String constant(double value) {
        String name = "constant." + constants++;
        graph.addInitializer(tensor(name, new int[0], new float[] {(float) value}));
        return name;
    }

    private static OnnxMl.TensorProto tensor(String name, int[] dims, float[] values) {
        ByteBuffer raw = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(values);
        OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder().setName(name).setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber())
                .setRawData(ByteString.copyFrom(raw.array()));
        for (int d : dims) t.addDims(d);
        return t.build();
    }

    private static OnnxMl.ValueInfoProto valueInfo(String name, Shape perSample) {
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder()
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam("batch"));
        for (int d : perSample.dims()) shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder().setTensorType(
                OnnxMl.TypeProto.Tensor.newBuilder().setElemType(OnnxMl.TensorProto.DataType.FLOAT.getNumber()).setShape(shape))).build();
    }

    private static OnnxMl.AttributeProto ints(String name, int... values) {
        OnnxMl.AttributeProto.Builder a = OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INTS);
        for (int v : values) a.addInts(v);
        return a.build();
    }

    private static OnnxMl.AttributeProto integer(String name, long value) {
        return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INT).setI(value).build();
    }

    private static OnnxMl.AttributeProto real(String name, double value) {
        return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.FLOAT).setF((float) value).build();
    }
}
