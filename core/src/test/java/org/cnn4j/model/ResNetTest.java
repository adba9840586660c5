package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.junit.jupiter.api.Test;

/** The built-in ResNets: their size, their names (torchvision's), any input shape, and their gradients. */
class ResNetTest {
    private static long parameters(Graph model) {
        return model.parameters().stream().mapToLong(p -> p.value().size()).sum();
    }

    @Test
    void resnet20HasHesShapeAndTorchvisionsNames() {
        try (Graph cifar = Models.byName("resnet20").build(Backends.CPU); Graph fashion = Models.byName("resnet20", new int[] {1, 28, 28}).build(Backends.CPU)) {
            // 3x3 stem 432 + bn 32; stage 1: 3 x (2 x 2304·2 + 2 x 32); stage 2: 14528 + 2 x 18560; stage 3: 57728 + 2 x 73984; fc 650.
            assertEquals(272_474, parameters(cifar));
            assertEquals(272_474 - 2 * 144, parameters(fashion), "a one-channel stem");
            assertEquals(Shape.of(10), fashion.outputShape());
            List<String> names = cifar.parameters().stream().map(Parameter::name).toList();
            assertTrue(names.containsAll(List.of("conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                    "layer2.0.downsample.1.bias", "layer3.2.bn2.weight", "fc.weight", "fc.bias")), names.toString());
            assertEquals(3 * (1 + 9 * 2 + 2), cifar.state().size(), "running mean, variance and batch count of 21 batch norms: the stem, two a block, two projections");
        }
        try (Graph resnet18 = Models.byName("resnet18").build(Backends.CPU)) {
            assertEquals(11_173_962, parameters(resnet18));
        }
    }

    @Test
    void resnet20sGradientsMatchCentralDifferencesInDouble() {
        Graph model = Models.resnet20(2, 8, 8, 4).seed(3).build(Backends.REFERENCE);
        Tensor x = Backends.REFERENCE.upload(Shape.of(3, 2, 8, 8), Data.gaussian(new Random(4), 3 * 128, 1));
        Tensor y = Backends.REFERENCE.uploadInts(Shape.of(3), new int[] {0, 3, 1});
        GradientChecker.Report report = GradientChecker.check(model, x, y, GradientChecker.Options.forPrecision(DType.FLOAT64).withMaxElementsPerTensor(3));
        assertTrue(report.passed(1e-5), report.toString());
        assertEquals(model.parameters().size() + 1, report.tensors().size());
    }
}
