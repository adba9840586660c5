package org.cnn4j.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.layer.BatchNorm;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.LayerConfig;
import org.cnn4j.layer.Parameter;
import org.cnn4j.loss.Loss;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * cnn4j's model file: a {@link Safetensors} file whose tensors are the parameters and the
 * layers' non-trainable state, named as the model names them ({@code conv1.weight},
 * {@code bn1.running_mean}: PyTorch's {@code state_dict} names), as float32, and whose metadata hold
 * <ul>
 * <li>{@code cnn4j.format}: {@value #FORMAT} (format 1, whose nodes list no inputs and form a chain, still loads);</li>
 * <li>{@code cnn4j.architecture}: JSON {@code {"input": [c, h, w], "seed": s, "layers": [{"name", "type",
 *     "inputs": [names…], settings…}], "loss": {"type", settings…}}}, the nodes in order, each taking
 *     earlier nodes or {@code "input"} — see {@link LayerConfig} and {@link Graph};</li>
 * <li>{@code cnn4j.data}: JSON {@code {"dataset", "classNames", "mean", "std", "preprocessing", "augmentation"}} (the last two
 *     optional) — see {@link DataInfo}.</li>
 * </ul>
 * A checkpoint is the same file with more metadata and tensors (optimizer state), so a checkpoint
 * also loads as a model. Loading executes nothing from the file: it reads JSON and numbers, checks
 * them, and rebuilds the model from the known layer types. Writes are atomic ({@link AtomicFiles}).
 */
public final class ModelFile {
    /** The format written: 2, whose nodes list their inputs. Format 1 (a chain: no inputs listed) still loads. */
    public static final String FORMAT = "2";
    private static final Set<String> READABLE = Set.of("1", "2");
    public static final String FORMAT_KEY = "cnn4j.format", ARCHITECTURE_KEY = "cnn4j.architecture", DATA_KEY = "cnn4j.data";
    /**
     * The most values a loaded model's input, or any of its layers' outputs, may hold per sample:
     * 2^26 (256 MiB of float32), hundreds of times what image classifiers use (vgg-small's largest
     * is 65,536), so that a file cannot make a batch's activations exhaust memory unnoticed.
     */
    public static final int MAX_VALUES_PER_SAMPLE = 1 << 26;

    private ModelFile() {
    }

    /** A model read from a file, with what else the file held. */
    public record Loaded(Model model, DataInfo data, Map<String, String> metadata, Map<String, Safetensors.Entry> otherTensors) {
        /**
         * Whether the file names the model's classes: every cnn4j model file does; an ONNX file from
         * elsewhere, without cnn4j's {@link #DATA_KEY}, has them by number, "0" … "k−1".
         */
        public boolean namesClasses() {
            return metadata.containsKey(DATA_KEY);
        }
    }

    public static void save(Path file, Model model, DataInfo data) throws IOException {
        save(file, model, data, Map.of(), Map.of());
    }

    /** Saves a model with extra metadata and tensors (a checkpoint's optimizer state, for instance). */
    public static void save(Path file, Model model, DataInfo data, Map<String, String> extraMetadata,
                            Map<String, Safetensors.Entry> extraTensors) throws IOException {
        String mismatch = mismatch(model.inputShape(), model.outputShape(), data);
        if (mismatch != null) throw new IllegalArgumentException("cannot save " + file + ": " + mismatch);
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put(FORMAT_KEY, FORMAT);
        metadata.put(ARCHITECTURE_KEY, Json.write(architecture(model)));
        metadata.put(DATA_KEY, Json.write(data.config()));
        metadata.putAll(extraMetadata);
        Map<String, Safetensors.Entry> tensors = new LinkedHashMap<>();
        for (Parameter p : model.parameters()) tensors.put(p.name(), entry(p.value()));
        for (Layer.State t : model.state()) tensors.put(t.name(), entry(t.value()));
        for (Map.Entry<String, Safetensors.Entry> e : extraTensors.entrySet()) {
            if (tensors.put(e.getKey(), e.getValue()) != null) throw new IllegalArgumentException("tensor name '" + e.getKey() + "' is taken by a parameter");
        }
        AtomicFiles.write(file, out -> Safetensors.write(out, metadata, tensors));
    }

    /**
     * Reads a model file and builds the model, with its weights, on a backend. Nothing is built
     * before the whole file has been checked: the architecture is planned as shapes alone
     * ({@link Graph.Builder#plan()}) and compared with the tensors the file really holds
     * (each parameter present, with its shape), with {@link #MAX_VALUES_PER_SAMPLE}, and with the
     * data description (one class name per output, one mean and std per input channel). Only then
     * is the model allocated, without drawing initial values, and the file's values written in.
     */
    public static Loaded load(Path file, Backend backend) throws IOException {
        Safetensors.Contents contents = Safetensors.read(file);
        Map<String, String> metadata = contents.metadata();
        if (!metadata.containsKey(FORMAT_KEY) || !READABLE.contains(metadata.get(FORMAT_KEY))) {
            throw new FileFormatException(file, "not a cnn4j model file: metadata " + FORMAT_KEY + " is "
                    + (metadata.containsKey(FORMAT_KEY) ? "'" + metadata.get(FORMAT_KEY) + "'" : "missing") + ", expected '1' or '2'");
        }
        DataInfo data;
        Graph.Builder builder;
        Graph.Plan plan;
        try {
            data = DataInfo.fromConfig(new Settings("data description", Json.readObject(require(file, metadata, DATA_KEY))));
            builder = builder(Json.readObject(require(file, metadata, ARCHITECTURE_KEY)));
            plan = builder.plan();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new FileFormatException(file, "bad model description: " + e.getMessage());
        }
        check(file, plan, data, contents.tensors());
        Graph model;
        try {
            model = builder.initialise(false).build(backend);
        } catch (IllegalArgumentException e) {
            throw new FileFormatException(file, "bad model description: " + e.getMessage());
        }
        Map<String, Safetensors.Entry> others = new LinkedHashMap<>(contents.tensors());
        try {
            for (Parameter p : model.parameters()) backend.write(p.value(), others.remove(p.name()).values());
            for (Layer.State t : model.state()) {
                Safetensors.Entry e = others.remove(t.name());
                if (e != null) backend.write(t.value(), e.values());
            }
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return new Loaded(model, data, metadata, others);
    }

    /** The file's architecture against its tensors, the size limit and its data description; see {@link #load}. */
    private static void check(Path file, Graph.Plan plan, DataInfo data, Map<String, Safetensors.Entry> tensors) throws FileFormatException {
        if (plan.layerNames().isEmpty()) throw new FileFormatException(file, "bad model description: the architecture has no layers");
        checkSize(file, "the input", plan.input());
        for (int i = 0; i < plan.layerNames().size(); i++) checkSize(file, "layer '" + plan.layerNames().get(i) + "'", plan.layerOutputs().get(i));
        Map<String, Shape> expected = new LinkedHashMap<>(plan.parameters());
        expected.putAll(plan.state());
        for (Map.Entry<String, Shape> p : expected.entrySet()) {
            Safetensors.Entry t = tensors.get(p.getKey());
            if (t == null && p.getKey().endsWith("." + BatchNorm.BATCHES_TRACKED)) continue; // files from before it was kept: it starts at 0
            if (t == null) {
                throw new FileFormatException(file, (plan.state().containsKey(p.getKey()) ? "state '" : "parameter '") + p.getKey() + "' "
                        + p.getValue() + " of the architecture has no tensor in the file");
            }
            if (!Arrays.equals(t.shape(), p.getValue().dims())) {
                throw new FileFormatException(file, "tensor '" + p.getKey() + "' has shape " + Arrays.toString(t.shape())
                        + " but the architecture needs " + p.getValue());
            }
        }
        String mismatch = mismatch(plan.input(), plan.output(), data);
        if (mismatch != null) throw new FileFormatException(file, mismatch);
    }

    /** What disagrees between a model's shapes and its data description (a class name per output, a mean and std per input channel), or null. */
    private static String mismatch(Shape input, Shape output, DataInfo data) {
        int outputs = output.size(), classes = data.classNames().size();
        if (classes != outputs) return "the data description names " + classes + " classes but the model has " + outputs + " outputs " + output;
        int channels = input.rank() == 3 ? input.dim(0) : 1, normalised = data.normalization().channels();
        if (normalised != channels) return "the data description normalises " + normalised + " channels but the model's input " + input + " has " + channels;
        if (data.preprocessing() != null && !data.preprocessing().input().equals(input)) {
            return "the data description prepares images as " + data.preprocessing().input() + " but the model's input is " + input;
        }
        return null;
    }

    private static void checkSize(Path file, String what, Shape perSample) throws FileFormatException {
        if (perSample.size() > MAX_VALUES_PER_SAMPLE) {
            throw new FileFormatException(file, "bad model description: " + what + " holds " + perSample.size() + " values per sample "
                    + perSample + ", more than cnn4j's limit of " + MAX_VALUES_PER_SAMPLE);
        }
    }

    private static String require(Path file, Map<String, String> metadata, String key) throws FileFormatException {
        String v = metadata.get(key);
        if (v == null) throw new FileFormatException(file, "metadata " + key + " is missing");
        return v;
    }

    /** The model's architecture as plain values (see the class comment). */
    public static Map<String, Object> architecture(Model model) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("input", model.inputShape().dims());
        a.put("seed", model.seed());
        List<Object> layers = new ArrayList<>();
        for (int i = 0; i < model.layers().size(); i++) {
            Layer layer = model.layers().get(i);
            LayerConfig c = layer.config();
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("name", layer.name());
            l.put("type", c.type());
            l.put("inputs", model.inputsOf(i));
            l.putAll(c.settings());
            layers.add(l);
        }
        a.put("layers", layers);
        a.put("loss", model.lossFunction().config());
        return a;
    }

    /** A builder for the architecture {@link #architecture} describes. */
    public static Graph.Builder builder(Map<String, Object> architecture) {
        Settings a = new Settings("architecture", architecture);
        Graph.Builder b = Graph.builder().input(a.integers("input", -1)).seed(a.longInteger("seed"));
        int index = 0;
        for (Object item : a.list("layers")) {
            Settings s = Settings.of("architecture: layer " + index, item);
            String name = s.string("name"), type = s.string("type");
            String[] inputs = s.values().containsKey("inputs") ? strings(s, "inputs") : new String[0];
            Map<String, Object> settings = new LinkedHashMap<>(s.values());
            settings.remove("name");
            settings.remove("type");
            settings.remove("inputs");
            try {
                b.add(name, new LayerConfig(type, settings).toLayer(), inputs);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("layer " + index + " ('" + name + "'): " + e.getMessage(), e);
            }
            index++;
        }
        return b.loss(Loss.fromConfig(Settings.of("loss", a.require("loss"))));
    }

    /** A non-empty list of strings. */
    private static String[] strings(Settings s, String key) {
        if (s.require(key) instanceof List<?> list && !list.isEmpty() && list.stream().allMatch(x -> x instanceof String)) {
            return list.stream().map(String.class::cast).toArray(String[]::new);
        }
        throw new IllegalArgumentException(s.owner() + ": setting '" + key + "' must be a list of node names, got " + Json.describe(s.require(key)));
    }

    /** The values of a tensor on any backend, as an entry for a file. */
    public static Safetensors.Entry entry(Tensor t) {
        return new Safetensors.Entry(t.shape().dims(), t.toFloatArray());
    }
}
