package org.cnn4j.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Locale;

/**
 * Element-wise comparison with llm.c's rule: |actual − expected| ≤ atol + rtol·|expected|.
 * On failure the message gives the number of mismatches and the first few with their indices.
 */
public final class Close {
    private Close() {
    }

    public static void assertClose(String what, double[] expected, double[] actual, double atol, double rtol) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " values, got " + actual.length);
        }
        int bad = 0;
        StringBuilder first = new StringBuilder();
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            boolean ok = Math.abs(a - e) <= atol + rtol * Math.abs(e) || (Double.isNaN(e) && Double.isNaN(a));
            if (!ok) {
                if (bad < 5) first.append(String.format(Locale.ROOT, "%n  [%d] expected %.9g, got %.9g", i, e, a));
                bad++;
            }
        }
        if (bad > 0) {
            fail(String.format(Locale.ROOT, "%s: %d of %d values differ beyond %.1e + %.1e·|expected|:%s",
                    what, bad, expected.length, atol, rtol, first));
        }
    }

    public static void assertClose(String what, double[] expected, float[] actual, double atol, double rtol) {
        assertClose(what, expected, toDouble(actual), atol, rtol);
    }

    public static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    /** The largest |v|, to scale a tolerance to the data. */
    public static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) m = Math.max(m, Math.abs(x));
        return m;
    }
}
