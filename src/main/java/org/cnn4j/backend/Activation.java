package org.cnn4j.backend;

/**
 * Elementwise activation functions with their derivatives, written here once in double precision
 * as the definition every backend follows. The derivative is expressed through the input x and the
 * output y = f(x), whichever is cheaper: backends keep both. It is also a function of y alone
 * (ReLU's: y > 0 exactly where x > 0), so a layer that applies f in place, keeping only y, passes
 * y for x.
 */
public enum Activation {
    /** f(x) = x. */
    IDENTITY {
        public double apply(double x) { return x; }
        public double derivative(double x, double y) { return 1; }
    },
    /** f(x) = max(0, x); f'(0) is taken as 0, as in PyTorch. */
    RELU {
        public double apply(double x) { return x > 0 ? x : 0; }
        public double derivative(double x, double y) { return x > 0 ? 1 : 0; }
    },
    /** f(x) = 1 / (1 + e^−x); f' = y (1 − y). */
    SIGMOID {
        public double apply(double x) { return 1 / (1 + Math.exp(-x)); }
        public double derivative(double x, double y) { return y * (1 - y); }
    },
    /** f(x) = tanh x; f' = 1 − y². */
    TANH {
        public double apply(double x) { return Math.tanh(x); }
        public double derivative(double x, double y) { return 1 - y * y; }
    },
    /**
     * LeCun's scaled tanh (seed 003): f(x) = A·tanh(B·x) with A = 1.7159, B = 2/3;
     * f' = A·B·(1 − tanh²(Bx)) = (B/A)·(A² − y²).
     */
    SCALED_TANH {
        public double apply(double x) { return SCALED_TANH_A * Math.tanh(SCALED_TANH_B * x); }
        public double derivative(double x, double y) {
            return SCALED_TANH_B / SCALED_TANH_A * (SCALED_TANH_A * SCALED_TANH_A - y * y);
        }
    };

    public static final double SCALED_TANH_A = 1.7159;
    public static final double SCALED_TANH_B = 2.0 / 3.0;

    /** y = f(x). */
    public abstract double apply(double x);

    /** f'(x), given x and y = f(x). */
    public abstract double derivative(double x, double y);
}
