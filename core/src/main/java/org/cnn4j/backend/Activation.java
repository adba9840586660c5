package org.cnn4j.backend;

import java.util.List;
import java.util.Objects;

/**
 * An elementwise activation function with its derivative, written here once in double precision
 * as the definition every backend follows (PyTorch's formulas). The derivative is expressed
 * through the input x and the output y = f(x), whichever is cheaper: backends keep both. For most
 * kinds it is also a function of y alone (ReLU's: y &gt; 0 exactly where x &gt; 0), so a layer that
 * applies f in place, keeping only y, may pass y for x; {@link #derivativeNeedsInput()} says where it
 * may not (SiLU, GELU, and LeakyReLU with a negative slope).
 *
 * <p>One value per kind ({@link #RELU}, …) except LeakyReLU, which carries its negative slope:
 * {@link #leakyRelu(double)}.
 */
public final class Activation {
    /** The functions, in the order the PTX kernels number them. */
    public enum Kind { IDENTITY, RELU, SIGMOID, TANH, SCALED_TANH, LEAKY_RELU, SILU, GELU }

    public static final double SCALED_TANH_A = 1.7159;
    public static final double SCALED_TANH_B = 2.0 / 3.0;
    /** PyTorch's default negative slope of LeakyReLU. */
    public static final double DEFAULT_LEAKY_SLOPE = 0.01;
    /** 1/√2 and 1/√(2π), GELU's constants. */
    public static final double SQRT1_2 = 0.7071067811865476, INV_SQRT_2PI = 0.3989422804014327;

    /** f(x) = x. */
    public static final Activation IDENTITY = new Activation(Kind.IDENTITY, 0);
    /** f(x) = max(0, x); f'(0) is taken as 0, as in PyTorch. */
    public static final Activation RELU = new Activation(Kind.RELU, 0);
    /** f(x) = 1 / (1 + e^−x); f' = y (1 − y). */
    public static final Activation SIGMOID = new Activation(Kind.SIGMOID, 0);
    /** f(x) = tanh x; f' = 1 − y². */
    public static final Activation TANH = new Activation(Kind.TANH, 0);
    /**
     * LeCun's scaled tanh: f(x) = A·tanh(B·x) with A = 1.7159, B = 2/3;
     * f' = A·B·(1 − tanh²(Bx)) = (B/A)·(A² − y²).
     */
    public static final Activation SCALED_TANH = new Activation(Kind.SCALED_TANH, 0);
    /** SiLU (swish): f(x) = x·σ(x) = x / (1 + e^−x); f' = σ(x)·(1 + x·(1 − σ(x))). */
    public static final Activation SILU = new Activation(Kind.SILU, 0);
    /**
     * GELU in its exact form (PyTorch's default): f(x) = x·Φ(x), Φ(x) = erfc(−x/√2)/2 the standard
     * normal distribution function; f' = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π).
     */
    public static final Activation GELU = new Activation(Kind.GELU, 0);

    private final Kind kind;
    private final double slope;

    private Activation(Kind kind, double slope) {
        this.kind = kind;
        this.slope = slope;
    }

    /**
     * LeakyReLU: f(x) = x for x &gt; 0, slope·x otherwise; f' = 1 for x &gt; 0, slope otherwise (at 0 too,
     * as PyTorch). A NaN x gives a NaN y and a NaN gradient.
     */
    public static Activation leakyRelu(double slope) {
        if (!Double.isFinite(slope)) throw new IllegalArgumentException("LeakyReLU slope must be finite, got " + slope);
        return new Activation(Kind.LEAKY_RELU, slope);
    }

    /** The value of a kind; LeakyReLU with {@link #DEFAULT_LEAKY_SLOPE}. */
    public static Activation of(Kind kind) {
        return switch (kind) {
            case IDENTITY -> IDENTITY;
            case RELU -> RELU;
            case SIGMOID -> SIGMOID;
            case TANH -> TANH;
            case SCALED_TANH -> SCALED_TANH;
            case LEAKY_RELU -> leakyRelu(DEFAULT_LEAKY_SLOPE);
            case SILU -> SILU;
            case GELU -> GELU;
        };
    }

    /** One activation of every kind (LeakyReLU with its default slope): what tests run through. */
    public static List<Activation> everyKind() {
        return java.util.Arrays.stream(Kind.values()).map(Activation::of).toList();
    }

    public Kind kind() {
        return kind;
    }

    /** LeakyReLU's negative slope; 0 for the other kinds. */
    public double slope() {
        return slope;
    }

    /** Whether f' needs x itself, that is, cannot be had from y = f(x) alone. */
    public boolean derivativeNeedsInput() {
        return kind == Kind.SILU || kind == Kind.GELU || kind == Kind.LEAKY_RELU && slope < 0;
    }

    /** y = f(x). */
    public double apply(double x) {
        return switch (kind) {
            case IDENTITY -> x;
            case RELU -> x > 0 ? x : Double.isNaN(x) ? x : 0;
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
            case SCALED_TANH -> SCALED_TANH_A * Math.tanh(SCALED_TANH_B * x);
            case LEAKY_RELU -> x > 0 ? x : x * slope;
            case SILU -> x / (1 + Math.exp(-x));
            case GELU -> x * 0.5 * Erf.erfc(-x * SQRT1_2);
        };
    }

    /** f'(x), given x and y = f(x). */
    public double derivative(double x, double y) {
        return switch (kind) {
            case IDENTITY -> 1;
            case RELU -> x > 0 ? 1 : Double.isNaN(x) ? x : 0;
            case SIGMOID -> y * (1 - y);
            case TANH -> 1 - y * y;
            case SCALED_TANH -> SCALED_TANH_B / SCALED_TANH_A * (SCALED_TANH_A * SCALED_TANH_A - y * y);
            case LEAKY_RELU -> x > 0 ? 1 : Double.isNaN(x) ? x : slope;
            case SILU -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 + x * (1 - s));
            }
            case GELU -> 0.5 * Erf.erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
        };
    }

    /** The kind's name, with LeakyReLU's slope: RELU, LEAKY_RELU(0.2). */
    @Override
    public String toString() {
        return kind == Kind.LEAKY_RELU ? kind + "(" + slope + ")" : kind.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Activation a && a.kind == kind && Double.compare(a.slope, slope) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, slope);
    }
}
