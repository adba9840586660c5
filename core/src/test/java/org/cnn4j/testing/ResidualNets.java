package org.cnn4j.testing;

import org.cnn4j.layer.Add;
import org.cnn4j.layer.AvgPool2d;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.ZeroPad2d;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;

/** Small residual graphs for tests: branches that join, and outputs that feed several nodes. */
public final class ResidualNets {
    private ResidualNets() {
    }

    /**
     * A basic block as ResNet's, on (c, size, size), size even: conv → BatchNorm2d → ReLU → conv →
     * BatchNorm2d, plus a 1×1 projection with BatchNorm2d as the shortcut, added, ReLU; then a 2×2
     * max pooling and a dense layer to {@code classes} outputs.
     */
    public static Graph.Builder batchNormBlock(int c, int size, int maps, int classes) {
        return Graph.builder().input(c, size, size)
                .add("conv1", new Conv2d(c, maps, 3).padding(1).bias(false), Graph.INPUT).add("bn1", new BatchNorm2d(maps)).add("relu1", new ReLU())
                .add("conv2", new Conv2d(maps, maps, 3).padding(1).bias(false)).add("bn2", new BatchNorm2d(maps))
                .add("shortcut", new Conv2d(c, maps, 1).bias(false), Graph.INPUT).add("bn_shortcut", new BatchNorm2d(maps))
                .add("sum", new Add(), "bn2", "bn_shortcut")
                .add("relu2", new ReLU()).add("pool", new MaxPool2d(2)).add("flat", new Flatten())
                .add("fc", new Dense(maps * (size / 2) * (size / 2), classes))
                .loss(new SoftmaxCrossEntropy());
    }

    /**
     * A residual block on (c, size, size), size even: conv1 → relu1 → conv2, a 1×1 projection of
     * the input as the shortcut, and sum = conv2 + shortcut + relu1, so that the model input feeds
     * two nodes (conv1, shortcut) and relu1 feeds two (conv2, sum); then relu2, a 2×2 max pooling
     * and a dense layer to {@code classes} outputs.
     */
    public static Graph.Builder block(int c, int size, int maps, int classes) {
        return Graph.builder().input(c, size, size)
                .add("conv1", new Conv2d(c, maps, 3).padding(1), Graph.INPUT).add("relu1", new ReLU())
                .add("conv2", new Conv2d(maps, maps, 3).padding(1))
                .add("shortcut", new Conv2d(c, maps, 1), Graph.INPUT)
                .add("sum", new Add(), "conv2", "shortcut", "relu1")
                .add("relu2", new ReLU()).add("pool", new MaxPool2d(2)).add("flat", new Flatten())
                .add("fc", new Dense(maps * (size / 2) * (size / 2), classes))
                .loss(new SoftmaxCrossEntropy());
    }

    /**
     * A depthwise-separable block (MobileNet's): a stem, a depthwise 3×3 convolution (one group per
     * channel) with batch normalisation, a 1×1 pointwise convolution, a grouped 3×3 (two groups), then
     * pooling and a dense classifier.
     */
    public static Graph.Builder separable(int c, int size, int maps, int classes) {
        return Graph.builder().input(c, size, size)
                .add("stem", new Conv2d(c, maps, 3).padding(1), Graph.INPUT).add("relu0", new ReLU())
                .add("depthwise", new Conv2d(maps, maps, 3).groups(maps).padding(1).bias(false)).add("bn", new BatchNorm2d(maps))
                .add("relu1", new ReLU())
                .add("pointwise", new Conv2d(maps, 2 * maps, 1)).add("relu2", new ReLU())
                .add("grouped", new Conv2d(2 * maps, maps, 3).groups(2).padding(1).stride(2)).add("relu3", new ReLU())
                .add("flat", new Flatten()).add("fc", new Dense(maps * ((size + 1) / 2) * ((size + 1) / 2), classes))
                .loss(new SoftmaxCrossEntropy());
    }

    /**
     * Pooling as PyTorch's options set it: a max pooling in ceil mode (its last windows partial),
     * then, after a zero padding of one row at the top and one column at the right, an average
     * pooling in ceil mode with padding left out of the divisor.
     */
    public static Graph.Builder poolingModes(int c, int size, int maps, int classes) {
        int afterMax = (size - 3 + 1) / 2 + 1, afterAvg = (afterMax + 1 + 2 - 3 + 1) / 2 + 1;
        return Graph.builder().input(c, size, size)
                .add("conv1", new Conv2d(c, maps, 3).padding(1), Graph.INPUT).add("relu1", new ReLU())
                .add("max", new MaxPool2d(3).stride(2).ceilMode(true))
                .add("conv2", new Conv2d(maps, maps, 3).padding(1)).add("relu2", new ReLU()).add("pad", new ZeroPad2d(0, 1, 1, 0))
                .add("avg", new AvgPool2d(3).countIncludePad(false).stride(2).padding(1).ceilMode(true))
                .add("flat", new Flatten()).add("fc", new Dense(maps * afterAvg * afterAvg, classes))
                .loss(new SoftmaxCrossEntropy());
    }
}
