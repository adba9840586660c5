package org.cnn4j.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cnn4j.onnx.IntegerFolding.Ints;
import org.junit.jupiter.api.Test;

/** The int64 constant arithmetic of {@link IntegerFolding}, on worked examples of each ONNX operator's definition. */
class IntegerFoldingTest {

    private static void assertInts(long[] values, long[] dims, Ints actual) {
        assertArrayEquals(dims, actual.dims(), "dimensions");
        assertArrayEquals(values, actual.values(), "values");
    }

    private static long[] l(long... v) {
        return v;
    }

    /** PyTorch 1.13's F.pad(x, (1, 0, 2, 1)) on an (n, c, h, w) value, step by step: ONNX's pads [0, 0, 2, 1, 0, 0, 1, 0]. */
    @Test
    void pytorchsPadsComeOutInOnnxOrder() {
        Ints zeros = IntegerFolding.constantOfShape(l(4), 0, 64);
        assertInts(l(0, 0, 0, 0), l(4), zeros);
        Ints joined = IntegerFolding.concat(new Ints[] {Ints.of(1, 0, 2, 1), zeros}, 0, 64);
        Ints pairs = IntegerFolding.reshape(joined, l(-1, 2), false);
        assertInts(l(1, 0, 2, 1, 0, 0, 0, 0), l(4, 2), pairs);
        Ints reversed = IntegerFolding.slice(pairs, l(-1), l(Long.MIN_VALUE), l(0), l(-1));
        assertInts(l(0, 0, 0, 0, 2, 1, 1, 0), l(4, 2), reversed);
        Ints columns = IntegerFolding.transpose(reversed, l(1, 0));
        assertInts(l(0, 0, 2, 1, 0, 0, 1, 0), l(2, 4), columns);
        assertInts(l(0, 0, 2, 1, 0, 0, 1, 0), l(8), IntegerFolding.reshape(columns, l(-1), false));
    }

    @Test
    void slicesClampAndStep() {
        Ints x = Ints.of(10, 11, 12, 13, 14, 15, 16);
        assertInts(l(11, 13, 15), l(3), IntegerFolding.slice(x, l(1), l(100), null, l(2)));      // end clamped to 7
        assertInts(l(14, 15), l(2), IntegerFolding.slice(x, l(-3), l(-1), null, null));          // from the end
        assertInts(l(16, 13, 10), l(3), IntegerFolding.slice(x, l(100), l(-100), l(-1), l(-3)));  // start clamped to 6, past the front
        assertInts(l(), l(0), IntegerFolding.slice(x, l(4), l(2), null, null));                   // nothing between
        // a 2 × 3 matrix: the second column on, every row, and the rows backwards
        Ints m = new Ints(l(1, 2, 3, 4, 5, 6), l(2, 3));
        assertInts(l(2, 3, 5, 6), l(2, 2), IntegerFolding.slice(m, l(1), l(3), l(1), null));
        assertInts(l(6, 5, 4, 3, 2, 1), l(2, 3), IntegerFolding.slice(m, l(-1, -1), l(-3, -4), l(0, 1), l(-1, -1)));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> IntegerFolding.slice(x, l(0), l(1), null, l(0))).getMessage().contains("a step of 0"));
        assertThrows(IllegalArgumentException.class, () -> IntegerFolding.slice(m, l(0, 0), l(1, 1), l(1, -1), null), "the same axis twice");
        assertThrows(IllegalArgumentException.class, () -> IntegerFolding.slice(m, l(0), l(1), l(2), null), "an axis past the rank");
    }

    @Test
    void transposesReshapesAndConcatenations() {
        // (2, 3, 2) → perm (2, 0, 1) → (2, 2, 3): out[i][j][k] = in[j][k][i]
        Ints x = new Ints(l(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), l(2, 3, 2));
        assertInts(l(0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11), l(2, 2, 3), IntegerFolding.transpose(x, l(2, 0, 1)));
        assertInts(l(0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11), l(2, 3, 2), IntegerFolding.transpose(x, null)); // reversed
        assertThrows(IllegalArgumentException.class, () -> IntegerFolding.transpose(x, l(0, 0, 1)));
        assertThrows(IllegalArgumentException.class, () -> IntegerFolding.transpose(x, l(1, 0)));
        assertInts(x.values(), l(2, 6), IntegerFolding.reshape(x, l(0, -1), false));               // 0 copies the first dimension
        assertTrue(assertThrows(IllegalArgumentException.class, () -> IntegerFolding.reshape(x, l(5, -1), false)).getMessage()
                .contains("shape [5, -1] does not hold the 12 values of [2, 3, 2]"));
        assertThrows(IllegalArgumentException.class, () -> IntegerFolding.reshape(x, l(-1, -1), false));
        // along the second axis: rows joined side by side
        Ints a = new Ints(l(1, 2, 3, 4), l(2, 2)), b = new Ints(l(5, 6), l(2, 1));
        assertInts(l(1, 2, 5, 3, 4, 6), l(2, 3), IntegerFolding.concat(new Ints[] {a, b}, -1, 64));
        assertThrows(IllegalArgumentException.class, () -> IntegerFolding.concat(new Ints[] {a, b}, 0, 64), "rows of other lengths");
        assertInts(l(7, 1, 2), l(3), IntegerFolding.concat(new Ints[] {new Ints(l(7), l()), Ints.of(1, 2)}, 0, 64)); // a scalar as one value
        assertTrue(assertThrows(IllegalArgumentException.class, () -> IntegerFolding.concat(new Ints[] {Ints.of(new long[40]), Ints.of(new long[40])}, 0, 64))
                .getMessage().contains("at most 64"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> IntegerFolding.constantOfShape(l(1L << 40, 1L << 40), 0, 64))
                .getMessage().contains("at most 64 values"));
    }
}
