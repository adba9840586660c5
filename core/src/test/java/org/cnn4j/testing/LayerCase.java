package org.cnn4j.testing;

import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.BatchNorm1d;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.FeatureMapCombination;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.GELU;
import org.cnn4j.layer.GlobalAvgPool2d;
import org.cnn4j.layer.Identity;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.LeakyReLU;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.ScaledTanh;
import org.cnn4j.layer.SiLU;
import org.cnn4j.layer.Sigmoid;
import org.cnn4j.layer.Softmax;
import org.cnn4j.layer.Subsampling;
import org.cnn4j.layer.Tanh;
import org.cnn4j.layer.ZeroPad2d;
import org.cnn4j.loss.SquaredError;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Sequential;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * One layer configuration on a small random input, as used by the layer tests: the layer alone in
 * a model with a squared-error loss against random targets (so dy is a generic random tensor),
 * with every parameter set to random values.
 */
public record LayerCase(String name, int[] input, Supplier<Layer> layer) {

    @Override
    public String toString() {
        return name;
    }

    /** Every layer kind, with the awkward shapes: stride, padding, dilation, rectangles, overlap, remainders. */
    public static List<LayerCase> all() {
        return List.of(
                new LayerCase("conv 3x3", new int[] {3, 7, 6}, () -> new Conv2d(3, 4, 3)),
                new LayerCase("conv rect pad stride dilation", new int[] {2, 9, 8},
                        () -> new Conv2d(2, 3, 3, 2).padding(1, 0).stride(2, 1).dilation(1, 2)),
                new LayerCase("conv 5x5 pad 2 stride 3", new int[] {2, 8, 8}, () -> new Conv2d(2, 2, 5).padding(2).stride(3)),
                new LayerCase("conv 1x1 no bias", new int[] {4, 3, 5}, () -> new Conv2d(4, 2, 1).bias(false)),
                new LayerCase("conv 2 groups pad stride", new int[] {4, 7, 6}, () -> new Conv2d(4, 6, 3).groups(2).padding(1).stride(2, 1)),
                new LayerCase("conv depthwise no bias", new int[] {3, 6, 5}, () -> new Conv2d(3, 3, 3).groups(3).padding(1).bias(false)),
                new LayerCase("max pool 2", new int[] {3, 6, 6}, () -> new MaxPool2d(2)),
                new LayerCase("max pool 3 stride 2 overlapping", new int[] {2, 7, 7}, () -> new MaxPool2d(3).stride(2)),
                new LayerCase("max pool 3x2 stride 2x1 pad 1 non-divisible", new int[] {2, 6, 5},
                        () -> new MaxPool2d(3, 2).stride(2, 1).padding(1, 1)),
                new LayerCase("avg pool 2 non-divisible", new int[] {3, 7, 5}, () -> new AvgPool2d(2)),
                new LayerCase("avg pool 3 stride 2 pad 1 overlapping", new int[] {2, 7, 6}, () -> new AvgPool2d(3).stride(2).padding(1)),
                new LayerCase("max pool 3 stride 2 ceil mode", new int[] {2, 7, 8}, () -> new MaxPool2d(3).stride(2).ceilMode(true)),
                new LayerCase("max pool 3x2 dilation 2x3 pad 1", new int[] {2, 9, 9}, () -> new MaxPool2d(3, 2).dilation(2, 3).stride(2, 1).padding(1, 1)),
                new LayerCase("avg pool 3 stride 2 pad 1 ceil, padding not counted", new int[] {2, 6, 7},
                        () -> ((AvgPool2d) new AvgPool2d(3).countIncludePad(false).stride(2).padding(1)).ceilMode(true)),
                new LayerCase("subsampling 2", new int[] {3, 6, 6}, () -> new Subsampling(2)),
                new LayerCase("subsampling 3 non-divisible", new int[] {2, 7, 8}, () -> new Subsampling(3)),
                new LayerCase("dense", new int[] {12}, () -> new Dense(12, 5)),
                new LayerCase("dense on images, no bias", new int[] {3, 2, 2}, () -> new Dense(12, 4).bias(false)),
                new LayerCase("flatten", new int[] {2, 3, 2}, Flatten::new),
                new LayerCase("zero padding, uneven", new int[] {2, 3, 4}, () -> new ZeroPad2d(1, 0, 2, 1)),
                new LayerCase("relu", new int[] {2, 3, 3}, ReLU::new),
                new LayerCase("sigmoid", new int[] {2, 3, 3}, Sigmoid::new),
                new LayerCase("tanh", new int[] {2, 3, 3}, Tanh::new),
                new LayerCase("scaled tanh", new int[] {2, 3, 3}, ScaledTanh::new),
                new LayerCase("leaky relu", new int[] {2, 3, 3}, LeakyReLU::new),
                new LayerCase("leaky relu, negative slope", new int[] {2, 3, 3}, () -> new LeakyReLU(-0.4)),
                new LayerCase("silu", new int[] {2, 3, 3}, SiLU::new),
                new LayerCase("gelu", new int[] {2, 3, 3}, GELU::new),
                new LayerCase("dropout", new int[] {3, 4, 4}, () -> new Dropout(0.4)),
                new LayerCase("softmax", new int[] {6}, Softmax::new),
                new LayerCase("identity", new int[] {2, 3, 3}, Identity::new),
                new LayerCase("global average pooling", new int[] {3, 4, 5}, GlobalAvgPool2d::new),
                new LayerCase("batch norm 2d (training)", new int[] {3, 4, 3}, () -> new BatchNorm2d(3)),
                new LayerCase("batch norm 2d, eps 0.1, momentum 0.3", new int[] {2, 3, 3}, () -> new BatchNorm2d(2).eps(0.1).momentum(0.3)),
                new LayerCase("batch norm 1d on features", new int[] {5}, () -> new BatchNorm1d(5)),
                new LayerCase("batch norm 1d on sequences", new int[] {4, 3}, () -> new BatchNorm1d(4)),
                new LayerCase("map combination", new int[] {3, 6, 5}, () -> new FeatureMapCombination(3, 4, 3)),
                new LayerCase("map combination, padded, entropy penalty", new int[] {3, 5, 5},
                        () -> new FeatureMapCombination(3, 2, 3).padding(1).penalty(CombinationPenalty.ENTROPY, 0.7)),
                new LayerCase("map combination, Bouvrie's L1 penalty", new int[] {2, 5, 4},
                        () -> new FeatureMapCombination(2, 3, 2).penalty(CombinationPenalty.SEED_L1, 0.7)));
    }

    /** The model (layer + squared error), its parameters randomised from {@code seed}. */
    public Graph model(Backend backend, long seed) {
        Graph model = Sequential.builder().input(input).add(layer.get()).loss(new SquaredError()).seed(seed).build(backend);
        Random rng = new Random(seed);
        for (Parameter p : model.parameters()) {
            Tensor values = backend.upload(p.value().shape(), Data.uniform(rng, p.value().size()));
            backend.copy(p.value(), values);
        }
        return model;
    }

    /** A random input batch of n samples. */
    public Tensor input(Backend backend, int n, long seed) {
        Shape shape = Shape.of(input).batch(n);
        return backend.upload(shape, Data.gaussian(new Random(seed + 1), shape.size(), 1));
    }

    /** Random targets shaped like the model's output for n samples. */
    public static Tensor targets(Graph model, int n, long seed) {
        Shape shape = model.outputShape().batch(n);
        return model.backend().upload(shape, Data.uniform(new Random(seed + 2), shape.size()));
    }
}
