package org.cnn4j.model;

import java.util.List;
import java.util.Locale;

import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.ScaledTanh;
import org.cnn4j.layer.Subsampling;
import org.cnn4j.loss.SoftmaxCrossEntropy;

/** The built-in architectures, by name. Each returns a builder, so a seed can be set before building on a backend. */
public final class Models {
    public static final List<String> NAMES = List.of("fmnist-cnn", "lenet5", "vgg-small");

    private Models() {
    }

    public static Graph.Builder byName(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "fmnist-cnn" -> fmnistCnn();
            case "lenet5" -> lenet5();
            case "vgg-small" -> vggSmall();
            default -> throw new IllegalArgumentException("unknown model '" + name + "'; built-in models are " + NAMES);
        };
    }

    /** For 1×28×28 images: Conv 1→32 3×3, ReLU, MaxPool 2, Conv 32→64 3×3, ReLU, MaxPool 2, Dense 1600→128, ReLU, Dense 128→10. */
    public static Graph.Builder fmnistCnn() {
        return Sequential.builder().input(1, 28, 28)
                .add("conv1", new Conv2d(1, 32, 3)).add("relu1", new ReLU()).add("pool1", new MaxPool2d(2))
                .add("conv2", new Conv2d(32, 64, 3)).add("relu2", new ReLU()).add("pool2", new MaxPool2d(2))
                .add("flatten", new Flatten()).add("fc1", new Dense(1600, 128)).add("relu3", new ReLU())
                .add("fc2", new Dense(128, 10))
                .loss(new SoftmaxCrossEntropy());
    }

    /**
     * LeNet-5 (LeCun et al. 1998) for 1×28×28 images padded to 32×32 by the first convolution: C1 6@5×5,
     * S2 subsampling, C3 16@5×5 (fully connected between maps), S4 subsampling, C5 120@5×5, F6 84,
     * output 10, with LeCun's scaled tanh 1.7159·tanh(2x/3) after every trainable layer but the last.
     * The output is trained with softmax cross-entropy rather than the original RBF units.
     */
    public static Graph.Builder lenet5() {
        return Sequential.builder().input(1, 28, 28)
                .add("c1", new Conv2d(1, 6, 5).padding(2)).add("c1_act", new ScaledTanh())
                .add("s2", new Subsampling(2)).add("s2_act", new ScaledTanh())
                .add("c3", new Conv2d(6, 16, 5)).add("c3_act", new ScaledTanh())
                .add("s4", new Subsampling(2)).add("s4_act", new ScaledTanh())
                .add("c5", new Conv2d(16, 120, 5)).add("c5_act", new ScaledTanh())
                .add("flatten", new Flatten()).add("f6", new Dense(120, 84)).add("f6_act", new ScaledTanh())
                .add("output", new Dense(84, 10))
                .loss(new SoftmaxCrossEntropy());
    }

    /** For CIFAR-10 (3×32×32): conv 3×3 (padding 1) + ReLU blocks 64, 64, M, 128, 128, M, 256, 256, M, then Dense 4096→10. */
    public static Graph.Builder vggSmall() {
        Graph.Builder b = Sequential.builder().input(3, 32, 32);
        int in = 3, block = 1;
        for (int[] widths : new int[][] {{64, 64}, {128, 128}, {256, 256}}) {
            for (int i = 0; i < widths.length; i++) {
                b.add("conv" + block + "_" + (i + 1), new Conv2d(in, widths[i], 3).padding(1));
                b.add("relu" + block + "_" + (i + 1), new ReLU());
                in = widths[i];
            }
            b.add("pool" + block, new MaxPool2d(2));
            block++;
        }
        return b.add("flatten", new Flatten()).add("fc", new Dense(256 * 4 * 4, 10)).loss(new SoftmaxCrossEntropy());
    }
}
