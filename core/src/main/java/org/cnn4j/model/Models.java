package org.cnn4j.model;

import java.util.List;
import java.util.Locale;

import org.cnn4j.layer.Add;
import org.cnn4j.layer.BatchNorm2d;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.GlobalAvgPool2d;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.layer.ScaledTanh;
import org.cnn4j.layer.Subsampling;
import org.cnn4j.loss.SoftmaxCrossEntropy;

/** The built-in architectures, by name. Each returns a builder, so a seed can be set before building on a backend. */
public final class Models {
    public static final List<String> NAMES = List.of("fmnist-cnn", "lenet5", "vgg-small", "resnet20", "resnet18");

    private Models() {
    }

    /** A built-in model at its usual input: 1×28×28, 3×32×32 for vgg-small and the ResNets. */
    public static Graph.Builder byName(String name) {
        return byName(name, null);
    }

    /**
     * A built-in model; the ResNets take any input (c, h, w) given (null: their usual 3×32×32), the
     * others have a fixed input and ignore it.
     */
    public static Graph.Builder byName(String name, int[] input) {
        return byName(name, input, 10);
    }

    /** {@link #byName(String, int[])} with {@code classes} outputs. */
    public static Graph.Builder byName(String name, int[] input, int classes) {
        int[] chw = input != null ? input : new int[] {3, 32, 32};
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "fmnist-cnn" -> fmnistCnn(classes);
            case "lenet5" -> lenet5(classes);
            case "vgg-small" -> vggSmall(classes);
            case "resnet20" -> resnet20(chw[0], chw[1], chw[2], classes);
            case "resnet18" -> resnet18(chw[0], chw[1], chw[2], classes);
            default -> throw new IllegalArgumentException("unknown model '" + name + "'; built-in models are " + NAMES);
        };
    }

    /** Whether a built-in model takes the input shape of whatever data it is given (every one takes the class count). */
    public static boolean anyInput(String name) {
        return name.toLowerCase(Locale.ROOT).startsWith("resnet");
    }

    /**
     * ResNet-20 (He et al. 2016, §4.2, for CIFAR-10): a 3×3 convolution to 16 maps, then three
     * stages of three basic blocks with 16, 32 and 64 maps, stride 2 at the start of the second and
     * third, 1×1 projection shortcuts with batch normalisation where the shape changes, global
     * average pooling and a dense layer; about 0.27 M parameters. Any input (c, h, w).
     */
    public static Graph.Builder resnet20(int c, int h, int w, int classes) {
        return resnet(c, h, w, classes, 16, new int[] {16, 32, 64}, 3);
    }

    /** ResNet-18 in its common CIFAR form: a 3×3 stem of 64 maps without pooling, four stages of two basic blocks (64, 128, 256, 512 maps); about 11 M parameters. */
    public static Graph.Builder resnet18(int c, int h, int w, int classes) {
        return resnet(c, h, w, classes, 64, new int[] {64, 128, 256, 512}, 2);
    }

    private static Graph.Builder resnet(int c, int h, int w, int classes, int stem, int[] widths, int blocks) {
        Graph.Builder b = Graph.builder().input(c, h, w)
                .add("conv1", new Conv2d(c, stem, 3).padding(1).bias(false), Graph.INPUT).add("bn1", new BatchNorm2d(stem)).add("relu1", new ReLU());
        String at = "relu1";
        int in = stem;
        for (int stage = 0; stage < widths.length; stage++) {
            for (int i = 0; i < blocks; i++) {
                at = basicBlock(b, "layer" + (stage + 1) + "." + i, at, in, widths[stage], stage > 0 && i == 0 ? 2 : 1);
                in = widths[stage];
            }
        }
        return b.add("avgpool", new GlobalAvgPool2d(), at).add("fc", new Dense(in, classes)).loss(new SoftmaxCrossEntropy());
    }

    /**
     * Adds a basic residual block (two 3×3 convolutions with batch normalisation, the first with
     * {@code stride}; the input added back, through a 1×1 convolution and batch normalisation where
     * the shape changes; ReLU) after node {@code input}, its nodes named {@code name.conv1},
     * {@code name.bn1}, … as torchvision names them. Returns the name of its output node.
     */
    public static String basicBlock(Graph.Builder b, String name, String input, int in, int out, int stride) {
        b.add(name + ".conv1", new Conv2d(in, out, 3).padding(1).stride(stride).bias(false), input).add(name + ".bn1", new BatchNorm2d(out))
                .add(name + ".relu1", new ReLU())
                .add(name + ".conv2", new Conv2d(out, out, 3).padding(1).bias(false)).add(name + ".bn2", new BatchNorm2d(out));
        String shortcut = input;
        if (stride != 1 || in != out) {
            b.add(name + ".downsample.0", new Conv2d(in, out, 1).stride(stride).bias(false), input).add(name + ".downsample.1", new BatchNorm2d(out));
            shortcut = name + ".downsample.1";
        }
        b.add(name + ".add", new Add(), name + ".bn2", shortcut).add(name + ".relu2", new ReLU());
        return name + ".relu2";
    }

    /** For 1×28×28 images: Conv 1→32 3×3, ReLU, MaxPool 2, Conv 32→64 3×3, ReLU, MaxPool 2, Dense 1600→128, ReLU, Dense 128→10. */
    public static Graph.Builder fmnistCnn() {
        return fmnistCnn(10);
    }

    /** {@link #fmnistCnn()} with {@code classes} outputs. */
    public static Graph.Builder fmnistCnn(int classes) {
        return Sequential.builder().input(1, 28, 28)
                .add("conv1", new Conv2d(1, 32, 3)).add("relu1", new ReLU()).add("pool1", new MaxPool2d(2))
                .add("conv2", new Conv2d(32, 64, 3)).add("relu2", new ReLU()).add("pool2", new MaxPool2d(2))
                .add("flatten", new Flatten()).add("fc1", new Dense(1600, 128)).add("relu3", new ReLU())
                .add("fc2", new Dense(128, classes))
                .loss(new SoftmaxCrossEntropy());
    }

    /**
     * LeNet-5 (LeCun et al. 1998) for 1×28×28 images padded to 32×32 by the first convolution: C1 6@5×5,
     * S2 subsampling, C3 16@5×5 (fully connected between maps), S4 subsampling, C5 120@5×5, F6 84,
     * output 10, with LeCun's scaled tanh 1.7159·tanh(2x/3) after every trainable layer but the last.
     * The output is trained with softmax cross-entropy rather than the original RBF units.
     */
    public static Graph.Builder lenet5() {
        return lenet5(10);
    }

    /** {@link #lenet5()} with {@code classes} outputs. */
    public static Graph.Builder lenet5(int classes) {
        return Sequential.builder().input(1, 28, 28)
                .add("c1", new Conv2d(1, 6, 5).padding(2)).add("c1_act", new ScaledTanh())
                .add("s2", new Subsampling(2)).add("s2_act", new ScaledTanh())
                .add("c3", new Conv2d(6, 16, 5)).add("c3_act", new ScaledTanh())
                .add("s4", new Subsampling(2)).add("s4_act", new ScaledTanh())
                .add("c5", new Conv2d(16, 120, 5)).add("c5_act", new ScaledTanh())
                .add("flatten", new Flatten()).add("f6", new Dense(120, 84)).add("f6_act", new ScaledTanh())
                .add("output", new Dense(84, classes))
                .loss(new SoftmaxCrossEntropy());
    }

    /** For CIFAR-10 (3×32×32): conv 3×3 (padding 1) + ReLU blocks 64, 64, M, 128, 128, M, 256, 256, M, then Dense 4096→10. */
    public static Graph.Builder vggSmall() {
        return vggSmall(10);
    }

    /** {@link #vggSmall()} with {@code classes} outputs. */
    public static Graph.Builder vggSmall(int classes) {
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
        return b.add("flatten", new Flatten()).add("fc", new Dense(256 * 4 * 4, classes)).loss(new SoftmaxCrossEntropy());
    }
}
