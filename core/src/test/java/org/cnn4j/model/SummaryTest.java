package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.loss.SquaredError;
import org.cnn4j.tensor.Shape;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.api.Test;

/** The cost accounting (multiplications and outputs of a 3×3 and of a 1×1 convolution) and the per-layer figures of fmnist-cnn. */
class SummaryTest {

    @Test
    void threeByThreeConvolutionOn100x100x256() {
        Summary s = Sequential.builder().input(256, 100, 100)
                .add(new Conv2d(256, 256, 3).padding(1).bias(false))
                .loss(new SquaredError()).build(Backends.CPU).summary();
        assertEquals(5_898_240_000L, s.multiplyAccumulates());
        assertEquals(2_560_000L, s.outputValues());
        assertEquals(Shape.of(256, 100, 100), s.rows().get(0).cost().outputShape());
        assertEquals(256L * 256 * 9, s.parameters());
    }

    @Test
    void oneByOneReductionFirst() {
        Summary s = Sequential.builder().input(256, 100, 100)
                .add(new Conv2d(256, 64, 1).bias(false))
                .add(new Conv2d(64, 256, 3).padding(1).bias(false))
                .loss(new SquaredError()).build(Backends.CPU).summary();
        assertEquals(1_638_400_000L, s.multiplyAccumulates());
        assertEquals(3_200_000L, s.outputValues());
        assertEquals(163_840_000L, s.rows().get(0).cost().multiplyAccumulates());
        assertEquals(640_000L, s.rows().get(0).cost().outputValues());
    }

    @Test
    void fmnistCnnTable() {
        Graph model = Sequential.builder().input(1, 28, 28)
                .add(new Conv2d(1, 32, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Conv2d(32, 64, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Flatten()).add(new Dense(1600, 128)).add(new ReLU()).add(new Dense(128, 10))
                .loss(new SoftmaxCrossEntropy()).build(Backends.CPU);
        Summary s = model.summary();
        assertEquals(320 + 18_496 + 204_928 + 1_290, s.parameters());
        assertEquals(26L * 26 * 32 * 9 + 11L * 11 * 64 * 288 + 1600L * 128 + 128L * 10, s.multiplyAccumulates());
        assertEquals(4L * 26 * 26 * 32, s.rows().get(0).cost().activationBytes());
        String table = s.toString();
        assertTrue(table.contains("Conv2d 32→64 3×3") && table.contains("(64, 5, 5)") && table.contains("225,034"), table);
    }

    /** A ResNet's long names and types ("Add ← layer2.0.bn2, layer2.0.downsample.1") widen the columns: every row's figures line up. */
    @Test
    void longNamesWidenTheColumns() {
        try (Graph model = Models.resnet20(3, 32, 32, 10).build(Backends.CPU)) {
            String table = model.summary().toString();
            assertTrue(table.contains("layer2.0.add") && table.contains("Add ← layer2.0.bn2, layer2.0.downsample.1"), table);
            java.util.List<Integer> ends = table.lines().map(String::length).distinct().toList();
            assertEquals(1, ends.size(), "every line as long as the header: " + table);
        }
    }
}
