package org.cnn4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * erfc against values from PyTorch 1.13's torch.special.erfc in float64 (which calls the C
 * library's erfc), and the float kernels' Chebyshev fit against it over the range GELU uses.
 */
class ErfTest {
    // x, erfc(x): torch.special.erfc(torch.tensor(x, dtype=torch.float64)).
    private static final double[][] ERFC = {
        {0.0, 1.0}, {1e-8, 0.9999999887162083}, {0.1, 0.887537083981715}, {0.5, 0.4795001221869535},
        {1.0, 0.15729920705028513}, {2.0, 0.004677734981047265}, {2.4, 0.0006885138966450789},
        {2.6, 0.00023603441652934908}, {3.0, 2.209049699858544e-05}, {5.0, 1.537459794428035e-12},
        {10.0, 2.088487583762545e-45}, {-0.5, 1.5204998778130465}, {-3.0, 1.9999779095030015},
    };

    @Test
    void erfcMatchesTheCLibrary() {
        for (double[] p : ERFC) {
            double x = p[0], expected = p[1];
            assertEquals(expected, Erf.erfc(x), 2e-12 * expected, "erfc(" + x + ")");
            assertEquals(1 - expected, Erf.erf(x), 1e-15 + 2e-12 * Math.abs(1 - expected), "erf(" + x + ")");
        }
        assertTrue(Double.isNaN(Erf.erfc(Double.NaN)) && Double.isNaN(Erf.erf(Double.NaN)));
        assertEquals(2, Erf.erfc(Double.NEGATIVE_INFINITY));
        assertEquals(0, Erf.erfc(Double.POSITIVE_INFINITY));
        assertEquals(-1, Erf.erf(Double.NEGATIVE_INFINITY));
    }

    @Test
    void theFastFitIsWithinItsStatedErrorOfErfc() {
        double worst = 0;
        for (int i = -6000; i <= 26000; i++) {
            double x = i / 1000.0, exact = Erf.erfc(x);
            worst = Math.max(worst, Math.abs(Erf.erfcFast(x) - exact) / exact);
        }
        assertTrue(worst < 1.2e-7, "worst relative error " + worst);
        assertTrue(worst > 1e-8, "a fit, not erfc itself: " + worst);
        assertEquals(2, Erf.erfcFast(Double.NEGATIVE_INFINITY));
        assertEquals(0, Erf.erfcFast(Double.POSITIVE_INFINITY));
    }
}
