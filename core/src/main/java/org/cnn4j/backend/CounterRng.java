package org.cnn4j.backend;

/**
 * A stateless, counter-based random number: a SplitMix64 finaliser of (seed, index). Any backend,
 * and any thread or GPU lane, gets the same number for the same pair, so dropout masks agree
 * everywhere and do not depend on the order of work. The PTX dropout kernel computes the same.
 */
public final class CounterRng {
    private CounterRng() {
    }

    /**
     * The seed whose number at index i is this seed's at index i + {@code count}: the indices
     * enter only as (index + 1)·γ added to the seed, so a skip folds into the seed.
     */
    public static long skip(long seed, long count) {
        return seed + count * 0x9E3779B97F4A7C15L;
    }

    /** A uniform number in [0, 1) with 24 random bits (exactly representable as a float). */
    public static float uniform(long seed, long index) {
        long z = seed + (index + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (z >>> 40) * 0x1.0p-24f;
    }
}
