package org.cnn4j.layer;

import static org.cnn4j.testing.Close.maxAbs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.cnn4j.backend.Backend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.TorchFixtures;
import org.cnn4j.testing.TorchFixtures.Case;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Convolutions with channel groups (PyTorch's {@code groups}; depthwise where groups = c = k)
 * against PyTorch's float64 {@code F.conv2d(..., groups=g)} (scripts/torch-fixtures.py): the
 * output, the input gradient, and the filter and bias gradients added to what they held.
 */
class GroupedConvolutionTest {

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        Backends.all().forEach(b -> TorchFixtures.named("grouped_conv_").forEach(c -> out.add(Arguments.of(b, c))));
        return out.stream();
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("cases")
    void groupedConvolutionMatchesPyTorch(Backend b, Case c) {
        TorchFixtures.Array x = c.tensor("x"), w = c.tensor("w");
        Shape xs = x.shape(), ws = w.shape();
        Conv2d conv = new Conv2d(xs.c(), ws.dim(0), ws.dim(2), ws.dim(3)).groups(c.intParam("groups"))
                .padding(c.intParam("padH"), c.intParam("padW")).stride(c.intParam("strideH"), c.intParam("strideW"))
                .dilation(c.intParam("dilationH"), c.intParam("dilationW"));
        conv.bind("conv", b, Shape.of(xs.c(), xs.h(), xs.w()), 1);
        assertEquals(ws, conv.weight().value().shape(), "filters (k, c/g, r, s)");
        b.write(conv.weight().value(), w.values());
        b.write(conv.bias().value(), c.tensor("b").values());
        b.fill(conv.weight().gradient(), 0.25);   // the backward pass adds to the gradients
        b.fill(conv.bias().gradient(), -0.5);

        Tensor y = conv.forward(b.upload(xs, x.values()), Pass.training(0));
        TorchFixtures.assertMatches(c + " y", b, c.tensor("y"), y.toDoubleArray());
        Tensor dx = conv.backward(b.upload(c.tensor("dy").shape(), c.tensor("dy").values()));
        TorchFixtures.assertMatches(c + " dx", b, c.tensor("dx"), dx.toDoubleArray());
        TorchFixtures.assertMatches(c + " dw", b, c.tensor("dw"), Arrays.stream(conv.weight().gradient().toDoubleArray()).map(v -> v - 0.25).toArray());
        TorchFixtures.assertMatches(c + " db", b, c.tensor("db"), Arrays.stream(conv.bias().gradient().toDoubleArray()).map(v -> v + 0.5).toArray());
        conv.release();
    }

    @Test
    void groupsMustDivideBothChannelCounts() {
        String m = assertThrows(IllegalArgumentException.class, () -> new Conv2d(6, 4, 3).groups(4)).getMessage();
        assertEquals("Conv2d 6→4: groups must be at least 1 and divide both channel counts, got 4", m);
        assertThrows(IllegalArgumentException.class, () -> new Conv2d(6, 6, 3).groups(0));
    }

    @Test
    void groupsAreSavedOnlyWhereSetAndReadBack() {
        Conv2d depthwise = new Conv2d(8, 8, 3).groups(8).padding(1), plain = new Conv2d(8, 8, 3);
        assertEquals(8, depthwise.config().settings().get("groups"));
        assertTrue(!plain.config().settings().containsKey("groups"), "an ungrouped layer's settings are as before groups existed");
        Conv2d back = (Conv2d) depthwise.config().toLayer();
        assertEquals(8, back.groups());
        assertEquals("Conv2d 8→8 3×3 pad 1 groups 8", back.describe());
        // PyTorch's initialisation bounds: fan_in = c/g·r·s = 9 for depthwise 3×3
        back.bind("conv", Backends.REFERENCE, Shape.of(8, 5, 5), 3);
        double bound = 1 / Math.sqrt(9), most = maxAbs(back.weight().value().toDoubleArray());
        assertTrue(most <= bound && most > 0.8 * bound, "U(−1/3, 1/3): largest |w| " + most);
        assertEquals(8L * 25 * 9, back.cost().multiplyAccumulates(), "multiply-accumulates of all groups");
    }
}
