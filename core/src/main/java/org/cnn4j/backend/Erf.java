package org.cnn4j.backend;

/**
 * The complementary error function erfc(x) = (2/√π) ∫ₓ^∞ e^{−t²} dt, which Java's Math lacks, twice:
 * {@link #erfc} to about 2e-12 relative (the definition GELU's double-precision reference uses) and
 * {@link #erfcFast}, a Chebyshev fit to about 1.2e-7 relative (what the float32 backends use, on
 * the CPU and in PTX: a reciprocal, one exponential and nine multiply-adds).
 *
 * <p>GELU needs Φ(x) = erfc(−x/√2)/2, the standard normal distribution function. Written through
 * erfc, both tails keep their relative accuracy: Φ(x) for x ≪ 0 is erfc of a large argument, never
 * 1 − something close to 1.
 */
public final class Erf {
    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126, ONE_OVER_SQRT_PI = 0.5641895835477563;
    /** Below this the series, above it the continued fraction. */
    private static final double SPLIT = 2.5;

    private Erf() {
    }

    /**
     * erfc(x): for |x| &lt; 2.5 as 1 − erf(x) with erf(x) = (2/√π) e^{−x²} Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)),
     * a series of positive terms (no cancellation); above, Laplace's continued fraction
     * erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from its 100th term.
     * Relative error below 2e-12 (the series' 1 − erf loses about four digits near x = 2.5), until
     * e^{−x²} turns subnormal at x ≈ 26.6.
     */
    public static double erfc(double x) {
        if (Double.isNaN(x)) return x;
        if (x < 0) return 2 - erfc(-x);
        if (x < SPLIT) return 1 - erfSeries(x);
        if (x > 27) return 0; // e^{-729} underflows
        double f = x;
        for (int n = 100; n >= 1; n--) f = x + (n / 2.0) / f;
        return Math.exp(-x * x) * ONE_OVER_SQRT_PI / f;
    }

    /** erf(x) = 1 − erfc(x), exact in sign and to about 1e-15 relative for |x| &lt; 2.5. */
    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        if (Math.abs(x) < SPLIT) return erfSeries(x);
        return Math.copySign(1 - erfc(Math.abs(x)), x);
    }

    private static double erfSeries(double x) {
        double x2 = x * x, term = x, sum = x;
        for (int n = 0; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
            term *= 2 * x2 / (2 * n + 3);
            sum += term;
        }
        return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
    }

    /**
     * erfc(x) by the Chebyshev fit of Press et al. (Numerical Recipes, §6.2): for z = |x|,
     * t = 1/(1 + z/2), erfc(z) ≈ t·exp(−z² + P(t)) with P of degree 9, relative error below 1.2e-7
     * for 0 ≤ z ≤ 26 (beyond, e^{−z²} underflows); erfc(−z) = 2 − erfc(z). The float32 kernels compute exactly these steps
     * (here in double, rounded once by the caller; in PTX in float).
     */
    public static double erfcFast(double x) {
        double z = Math.abs(x), t = 1 / (1 + 0.5 * z);
        double p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
                + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
        double r = t * Math.exp(-z * z + p);
        return x >= 0 ? r : 2 - r;
    }
}
