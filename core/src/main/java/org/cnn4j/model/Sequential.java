package org.cnn4j.model;

/**
 * A chain of layers, each taking the output of the one before: the simplest {@link Graph}, built
 * as PyTorch's {@code nn.Sequential} reads.
 *
 * <pre>{@code
 * Graph model = Sequential.builder().input(1, 28, 28)
 *         .add(new Conv2d(1, 32, 3)).add(new ReLU()).add(new MaxPool2d(2))
 *         .add(new Flatten()).add(new Dense(32 * 13 * 13, 10))
 *         .loss(new SoftmaxCrossEntropy()).seed(42)
 *         .build(new CpuBackend());
 * }</pre>
 */
public final class Sequential {
    private Sequential() {
    }

    /** A graph builder; layers added without naming their inputs each take the one added before. */
    public static Graph.Builder builder() {
        return Graph.builder();
    }
}
