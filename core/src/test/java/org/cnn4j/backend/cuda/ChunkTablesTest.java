package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

/** The chunk tables of the multi-tensor kernels, on any machine: every element in exactly one chunk, fields copied, words low first. */
class ChunkTablesTest {
    @Test
    void everyElementFallsInExactlyOneChunkOfItsTensor() {
        long[] sizes = {1, 0, ChunkTables.CHUNK, ChunkTables.CHUNK + 1, 10_000};
        long[][] fields = new long[sizes.length][];
        for (int t = 0; t < sizes.length; t++) fields[t] = new long[] {0x1000L * (t + 1), 0x2000_0000_0000L + t};
        long[] table = ChunkTables.chunks(fields, sizes);
        int width = 4;
        assertEquals(0, table.length % width);
        long[] covered = new long[sizes.length];
        for (int row = 0; row < table.length / width; row++) {
            int t = (int) (table[row * width] / 0x1000L) - 1;
            assertEquals(0x2000_0000_0000L + t, table[row * width + 1], "the tensor's fields, row " + row);
            long first = table[row * width + 2], count = table[row * width + 3];
            assertEquals(covered[t], first, "chunks of tensor " + t + " follow each other");
            assertEquals(Math.min(ChunkTables.CHUNK, sizes[t] - first), count);
            covered[t] += count;
        }
        assertArrayEquals(sizes, covered, "every element of every tensor, once");
        assertEquals(1 + 0 + 1 + 2 + 3, table.length / width, "chunks in all");
    }

    @Test
    void wordsAreLowThenHigh() {
        assertArrayEquals(new int[] {0x89ABCDEF, 0x01234567, -1, 0}, ChunkTables.words(new long[] {0x0123456789ABCDEFL, 0xFFFFFFFFL}));
    }

    @Test
    void keysCompareContents() {
        assertEquals(new ChunkTables.Key(new long[] {1, 2}), new ChunkTables.Key(new long[] {1, 2}));
        assertEquals(new ChunkTables.Key(new long[] {1, 2}).hashCode(), new ChunkTables.Key(new long[] {1, 2}).hashCode());
        assertNotEquals(new ChunkTables.Key(new long[] {1, 2}), new ChunkTables.Key(new long[] {2, 1}));
    }
}
