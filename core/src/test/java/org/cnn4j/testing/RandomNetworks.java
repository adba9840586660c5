package org.cnn4j.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.Backend;
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
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.LeakyReLU;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.SiLU;
import org.cnn4j.layer.Sigmoid;
import org.cnn4j.layer.Tanh;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Reads src/test/resources/random-networks.txt, written by scripts/random-networks.py (or the file
 * the system property {@code cnn4j.randomNetworks} names): small networks drawn at random, each with
 * one training step by PyTorch in float64, and checks a backend's step against it.
 */
public final class RandomNetworks {
    /**
     * Float32 backends' tolerance, as a fraction of each tensor's scale: 2e-3. Over 1,800 networks
     * the CPU's worst was 8.4e-4 and over 1,500 the emulated GPU's 1.3e-3: float32 rounding through
     * batch normalisation's division by small deviations and through gradients that nearly cancel.
     */
    public static final double FLOAT32 = 2e-3;
    /** The float64 reference backend's: 1e-9 (its worst over the same networks, 2e-11). */
    public static final double FLOAT64 = 1e-9;
    /**
     * A gradient that is zero in exact arithmetic (a layer's bias whose every effect a batch
     * normalisation after it removes; PyTorch's float64 gives it as rounding, under 1e-9 of the
     * largest gradient) comes out of float32 as the rounding of terms that cancel, which are as
     * large as the other gradients or larger: float32 backends are held to 1e-2 of the largest
     * gradient there (the worst seen in 1,200 networks with such gradients among them: 2.3e-4).
     */
    public static final double VANISHING = 1e-2;

    /** A network: its input (c, h, w), its blocks as the file gives them, and PyTorch's tensors by name. */
    public record Network(String name, int[] input, List<String[]> blocks, Map<String, TorchFixtures.Array> tensors) {
        @Override
        public String toString() {
            StringBuilder s = new StringBuilder(name + " " + Arrays.toString(input));
            for (String[] b : blocks) s.append(" | ").append(String.join(" ", b));
            return s.toString();
        }

        private TorchFixtures.Array tensor(String key) {
            TorchFixtures.Array a = tensors.get(key);
            if (a == null) throw new IllegalArgumentException("network " + name + " has no tensor " + key);
            return a;
        }

        /** The network in cnn4j's layers, with PyTorch's names, under the softmax cross-entropy. */
        public Graph build(Backend backend) {
            Graph.Builder g = Graph.builder().input(input);
            String previous = Graph.INPUT;
            for (String[] b : blocks) {
                String name = b[1];
                switch (b[0]) {
                    case "conv" -> g.add(name, new Conv2d(i(b, 2), i(b, 3), i(b, 4)).stride(i(b, 5)).padding(i(b, 6)).dilation(i(b, 7))
                            .groups(i(b, 8)).bias(i(b, 9) == 1), previous);
                    case "maxpool" -> g.add(name, new MaxPool2d(i(b, 2)).dilation(i(b, 5)).stride(i(b, 3)).padding(i(b, 4)).ceilMode(i(b, 6) == 1), previous);
                    case "avgpool" -> g.add(name, new AvgPool2d(i(b, 2)).countIncludePad(i(b, 6) == 1).stride(i(b, 3)).padding(i(b, 4))
                            .ceilMode(i(b, 5) == 1), previous);
                    case "batchnorm" -> g.add(name, new BatchNorm2d(i(b, 2)).eps(Double.parseDouble(b[3])), previous);
                    case "act" -> g.add(name, activation(b[2]), previous);
                    case "residual" -> {
                        g.add(name, new Conv2d(i(b, 2), i(b, 2), 3).padding(1), previous).add(name + ".add", new Add(), previous, name);
                        name += ".add";
                    }
                    case "concat" -> {
                        g.add(name, new Conv2d(i(b, 2), i(b, 3), 3).padding(1), previous).add(name + ".cat", new Concat(), previous, name);
                        name += ".cat";
                    }
                    case "batchnorm1d" -> g.add(name, new BatchNorm1d(i(b, 2)).eps(Double.parseDouble(b[3])), previous);
                    case "globalavg" -> g.add(name, new GlobalAvgPool2d(), previous);
                    case "flatten" -> g.add(name, new Flatten(), previous);
                    case "dense" -> g.add(name, new Dense(i(b, 2), i(b, 3)), previous);
                    default -> throw new IllegalArgumentException("network " + this.name + ": unknown block " + b[0]);
                }
                previous = name;
            }
            return g.loss(new SoftmaxCrossEntropy()).build(backend);
        }

        /**
         * One training step on {@code backend} from PyTorch's weights, running statistics, images and
         * labels, against PyTorch's loss, every parameter's gradient and the running statistics after
         * it: within {@code tolerance} of the loss (at least 1), of each gradient's largest magnitude
         * (at least 1e-2 of the largest of all gradients; for a gradient that vanishes, see {@link
         * #VANISHING}) and of each statistic's (at least 1).
         */
        public void assertStep(Backend backend, double tolerance) {
            try (Graph model = build(backend)) {
                for (Parameter p : model.parameters()) backend.write(p.value(), tensor("param/" + p.name()).values());
                for (Layer.State s : model.state()) {
                    if (!s.name().endsWith(".num_batches_tracked")) backend.write(s.value(), tensor("param/" + s.name()).values());
                }
                TorchFixtures.Array x = tensor("x");
                int[] labels = Arrays.stream(tensor("labels").values()).mapToInt(v -> (int) v).toArray();
                try (Tensor in = backend.upload(x.shape(), x.values()); Tensor target = backend.uploadInts(Shape.of(labels.length), labels)) {
                    model.zeroGradients();
                    double loss = model.loss(model.forward(in, Pass.training(0)), target, true);
                    model.backward();
                    double expected = tensor("loss").values()[0];
                    Close.assertClose(this + ": loss on " + backend.name(), new double[] {expected}, new double[] {loss},
                            tolerance * Math.max(1, Math.abs(expected)), 0);
                    double all = 0;
                    for (Parameter p : model.parameters()) all = Math.max(all, Close.maxAbs(tensor("grad/" + p.name()).values()));
                    boolean float32 = backend.precision() != DType.FLOAT64;
                    for (Parameter p : model.parameters()) {
                        double[] e = tensor("grad/" + p.name()).values();
                        double own = Close.maxAbs(e), allowed = own <= 1e-9 * all && float32 ? VANISHING * all : tolerance * Math.max(own, 1e-2 * all);
                        Close.assertClose(this + ": gradient of " + p.name() + " on " + backend.name(), e, p.gradient().toDoubleArray(), allowed, 0);
                    }
                    for (Layer.State s : model.state()) {
                        if (s.name().endsWith(".num_batches_tracked")) continue;
                        double[] e = tensor("after/" + s.name()).values();
                        Close.assertClose(this + ": " + s.name() + " after the step on " + backend.name(), e, s.value().toDoubleArray(),
                                tolerance * Math.max(1, Close.maxAbs(e)), 0);
                    }
                }
            }
        }

        private int i(String[] block, int at) {
            if (at >= block.length) throw new IllegalArgumentException("network " + name + ": block " + String.join(" ", block) + " lacks field " + at);
            return Integer.parseInt(block[at]);
        }
    }

    private static List<Network> networks;

    private RandomNetworks() {
    }

    public static synchronized List<Network> all() {
        if (networks == null) networks = load();
        return networks;
    }

    private static Layer activation(String kind) {
        return switch (kind) {
            case "ReLU" -> new ReLU();
            case "LeakyReLU" -> new LeakyReLU(); // PyTorch's default slope, 0.01
            case "Sigmoid" -> new Sigmoid();
            case "Tanh" -> new Tanh();
            case "SiLU" -> new SiLU();
            case "GELU" -> new GELU();
            default -> throw new IllegalArgumentException("unknown activation " + kind);
        };
    }

    private static List<Network> load() {
        String file = System.getProperty("cnn4j.randomNetworks");
        try (BufferedReader in = file != null ? Files.newBufferedReader(Path.of(file))
                : new BufferedReader(new InputStreamReader(RandomNetworks.class.getResourceAsStream("/random-networks.txt"), StandardCharsets.UTF_8))) {
            List<Network> out = new ArrayList<>();
            String name = null;
            int[] input = null;
            List<String[]> blocks = new ArrayList<>();
            Map<String, TorchFixtures.Array> tensors = new HashMap<>();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                String[] f = line.split(" ");
                switch (f[0]) {
                    case "network" -> {
                        name = f[1];
                        input = new int[] {Integer.parseInt(f[2]), Integer.parseInt(f[3]), Integer.parseInt(f[4])};
                    }
                    case "tensor" -> tensors.put(f[1], TorchFixtures.array(f));
                    case "end" -> {
                        out.add(new Network(name, input, List.copyOf(blocks), Map.copyOf(tensors)));
                        blocks.clear();
                        tensors.clear();
                    }
                    default -> blocks.add(f);
                }
            }
            return List.copyOf(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
