package org.cnn4j.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.PoolGeometry;
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
 * Pooling in ceil mode, averages that leave the padding out of the divisor, and padding that
 * differs between the sides, against PyTorch's float64 {@code max_pool2d} / {@code
 * avg_pool2d(ceil_mode=..., count_include_pad=...)} (uneven padding: {@code F.pad} first)
 * (scripts/torch-fixtures.py): output and input gradient of the layers, on every backend.
 */
class PoolingModesTest {

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        Backends.all().forEach(b -> TorchFixtures.named("pool_layer_").forEach(c -> out.add(Arguments.of(b, c))));
        return out.stream();
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("cases")
    void poolingModesMatchPyTorch(Backend b, Case c) {
        TorchFixtures.Array x = c.tensor("x");
        Shape xs = x.shape();
        int wh = c.intParam("windowH"), ww = c.intParam("windowW");
        boolean dilated = c.params().containsKey("dilationH"); // taps apart
        Pool2d pool = c.param("kind").equals("max") ? new MaxPool2d(wh, ww).dilation(dilated ? c.intParam("dilationH") : 1, dilated ? c.intParam("dilationW") : 1)
                : new AvgPool2d(wh, ww).countIncludePad(Boolean.parseBoolean(c.param("countIncludePad")));
        boolean sides = c.params().containsKey("padBottom"); // padding that differs between the sides
        pool.stride(c.intParam("strideH"), c.intParam("strideW")).padding(c.intParam("padH"), c.intParam("padW"),
                c.intParam(sides ? "padBottom" : "padH"), c.intParam(sides ? "padRight" : "padW")).ceilMode(Boolean.parseBoolean(c.param("ceil")));
        pool.bind("pool", b, Shape.of(xs.c(), xs.h(), xs.w()), 1);
        for (int pass = 0; pass < 2; pass++) { // twice: the second pass reuses the rescaling written by the first
            Tensor y = pool.forward(b.upload(xs, x.values()), Pass.training(pass));
            assertEquals(c.tensor("y").shape(), y.shape(), "PyTorch's output size");
            TorchFixtures.assertMatches(c + " y", b, c.tensor("y"), y);
            TorchFixtures.assertMatches(c + " dx", b, c.tensor("dx"), pool.backward(b.upload(c.tensor("dy").shape(), c.tensor("dy").values())));
        }
        pool.release();
    }

    @Test
    void ceilModeAddsAWindowOnlyWhereItStartsInsideTheInput() {
        // 7 wide, windows of 2 every 2: floor 3, ceil 4 (the last window holds column 6 alone)
        assertEquals(3, new PoolGeometry(1, 7, 7, 2, 2, 2, 2, 0, 0).q());
        PoolGeometry ceil = new PoolGeometry(1, 7, 7, 2, 2, 2, 2, 0, 0, true);
        assertEquals(4, ceil.q());
        assertTrue(!ceil.windowsInside());
        // 5 wide, windows of 2 every 2, padding 1: the ceiling would put a fourth window at 5..6, which starts in the padding
        assertEquals(3, new PoolGeometry(1, 5, 5, 2, 2, 2, 2, 1, 1, true).q());
        assertEquals(4, new PoolGeometry(1, 6, 6, 3, 3, 2, 2, 1, 1, true).q()); // 6 wide: the fourth starts at column 5, inside
        // a window larger than the input by less than a stride: one output in ceil mode, none in floor mode (PyTorch's sizes)
        assertEquals(1, new PoolGeometry(1, 1, 1, 2, 2, 2, 2, 0, 0, true).p());
        assertEquals(1, new PoolGeometry(1, 1, 1, 2, 2, 2, 2, 0, 0, true).divisor(0, 0, true), "what lies past the input never counts");
        String m = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new PoolGeometry(1, 1, 1, 2, 2, 2, 2, 0, 0, false)).getMessage();
        assertTrue(m.contains("a 2x2 window does not fit an input of 1x1"), m);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new PoolGeometry(1, 1, 1, 3, 3, 2, 2, 0, 0, true), "larger by a stride");
        // divisors: the last window of the first geometry holds 1 column of 2; with padding not counted, a corner holds 2 × 2 of 3 × 3
        assertEquals(2, ceil.divisor(3, 0, true));
        assertEquals(4, new PoolGeometry(1, 6, 6, 3, 3, 2, 2, 1, 1).divisor(0, 0, false));
        assertEquals(9, new PoolGeometry(1, 6, 6, 3, 3, 2, 2, 1, 1).divisor(0, 0, true));
    }

    @Test
    void unevenPaddingIsSavedAndReadBack() {
        Pool2d pool = new MaxPool2d(3).stride(2).padding(0, 1, 1, 0);
        Layer back = pool.config().toLayer();
        assertEquals("MaxPool2d 3×3 stride 2 pad 0,1,1,0", back.describe());
        assertEquals(org.cnn4j.io.Json.write(pool.config().settings()), org.cnn4j.io.Json.write(back.config().settings()));
        // 6 × 6, windows of 3 every 2, one row of padding at the bottom only: rows 0..2, 2..4 and 4..6 (6 the padding), columns 0..2 and 2..4
        PoolGeometry g = new PoolGeometry(1, 6, 6, 3, 3, 2, 2, 0, 0, 1, 0, false);
        assertEquals(List.of(3, 2), List.of(g.p(), g.q()));
        assertEquals(6, g.divisor(2, 0, false), "the last row of windows holds 2 input rows");
    }

    @Test
    void tapsApartSpanTheirWindowAndAreMaxPoolingsOnly() {
        // 3 taps 3 apart span 7 rows: too many for 6, enough for 7
        String m = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new PoolGeometry(1, 6, 6, 3, 3, 1, 1, 0, 0, 0, 0, 3, 3, false)).getMessage();
        assertTrue(m.contains("window does not fit an input of 6x6"), m);
        assertEquals(1, new PoolGeometry(1, 7, 7, 3, 3, 1, 1, 0, 0, 0, 0, 3, 3, false).p());
        // 2 taps 3 apart from column -1 of an input 2 wide: columns -1 and 2, the padding on both sides;
        // PyTorch gives -inf there and a gradient outside the input. 3 wide: column 2 is an input.
        m = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new PoolGeometry(1, 5, 2, 2, 2, 2, 1, 0, 1, 0, 1, 2, 3, false)).getMessage();
        assertTrue(m.contains("a 2x2 window with taps 2x3 apart holds no input of 5x2 at output column 0"), m);
        assertEquals(2, new PoolGeometry(1, 5, 3, 2, 2, 2, 1, 0, 1, 0, 1, 2, 3, false).q());
        m = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, // the same down the rows, in ceil mode
                () -> new PoolGeometry(1, 2, 5, 2, 2, 1, 2, 1, 0, 1, 0, 3, 2, true)).getMessage();
        assertTrue(m.contains("at output row 0"), m);
        Layer back = new MaxPool2d(3).dilation(2, 3).config().toLayer();
        assertEquals("MaxPool2d 3×3 dilation 2×3", back.describe());
        Map<String, Object> settings = new java.util.LinkedHashMap<>(new AvgPool2d(3).config().settings());
        settings.put("dilation", new int[] {2, 2});
        m = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new LayerConfig("AvgPool2d", settings).toLayer()).getMessage();
        assertTrue(m.contains("only a max pooling takes a dilation"), m);
    }

    @Test
    void theModesAreSavedOnlyWhereSetAndReadBack() {
        AvgPool2d avg = (AvgPool2d) new AvgPool2d(3).countIncludePad(false).stride(2).padding(1).ceilMode(true);
        Layer back = avg.config().toLayer();
        assertEquals("AvgPool2d 3×3 stride 2 pad 1 ceil without padding in the divisor", back.describe());
        assertEquals(org.cnn4j.io.Json.write(avg.config().settings()), org.cnn4j.io.Json.write(back.config().settings()));
        assertTrue(!new MaxPool2d(2).config().settings().containsKey("ceilMode"), "floor mode writes what it always wrote");
        assertTrue(!new AvgPool2d(2).config().settings().containsKey("countIncludePad"));
    }
}
