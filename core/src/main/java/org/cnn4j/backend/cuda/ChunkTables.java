package org.cnn4j.backend.cuda;

import java.util.Arrays;

/**
 * The tables that let one kernel launch work on many tensors (all the gradients to clear, all the
 * parameters to update): each tensor is cut into chunks of at most {@link #CHUNK} elements, and each
 * chunk is one row of the table, the tensor's own fields (its addresses) followed by the chunk's
 * first element and element count. Block b of the launch takes row b.
 */
final class ChunkTables {
    /** Elements per chunk: one block of 256 threads does 16 each. */
    static final int CHUNK = 4096;

    private ChunkTables() {
    }

    /** The rows for tensors with these fields (the same number for each) and sizes, flattened. */
    static long[] chunks(long[][] fields, long[] sizes) {
        if (fields.length != sizes.length) throw new IllegalArgumentException(fields.length + " tensors' fields for " + sizes.length + " sizes");
        int width = fields.length == 0 ? 0 : fields[0].length + 2, rows = 0;
        for (long size : sizes) rows += (int) ((size + CHUNK - 1) / CHUNK);
        long[] table = new long[rows * width];
        int at = 0;
        for (int t = 0; t < sizes.length; t++) {
            if (fields[t].length + 2 != width) throw new IllegalArgumentException("tensor " + t + " has " + fields[t].length + " fields, not " + (width - 2));
            for (long first = 0; first < sizes[t]; first += CHUNK) {
                System.arraycopy(fields[t], 0, table, at, width - 2);
                table[at + width - 2] = first;
                table[at + width - 1] = Math.min(CHUNK, sizes[t] - first);
                at += width;
            }
        }
        return table;
    }

    /** The table as 32-bit words, low word first (the device's byte order), for an upload. */
    static int[] words(long[] table) {
        int[] words = new int[2 * table.length];
        for (int i = 0; i < table.length; i++) {
            words[2 * i] = (int) table[i];
            words[2 * i + 1] = (int) (table[i] >>> 32);
        }
        return words;
    }

    /** A table's contents as a map key. */
    record Key(long[] table) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(table, k.table);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(table);
        }
    }
}
