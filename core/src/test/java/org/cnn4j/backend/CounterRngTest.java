package org.cnn4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** The counter-based numbers: a skip of k indices folded into the seed draws what index i + k draws. */
class CounterRngTest {
    @Test
    void aSkipFoldedIntoTheSeedDrawsTheLaterIndices() {
        Random rng = new Random(3);
        for (int trial = 0; trial < 1000; trial++) {
            long seed = rng.nextLong(), skip = trial < 500 ? rng.nextInt(1 << 20) : rng.nextLong() >>> 2;
            long i = rng.nextInt(1 << 24);
            assertEquals(CounterRng.uniform(seed, i + skip), CounterRng.uniform(CounterRng.skip(seed, skip), i), "seed " + seed + " skip " + skip);
        }
        assertEquals(CounterRng.uniform(7, 0), CounterRng.uniform(CounterRng.skip(7, 0), 0));
        assertNotEquals(CounterRng.uniform(7, 0), CounterRng.uniform(CounterRng.skip(7, 1), 0));
    }
}
