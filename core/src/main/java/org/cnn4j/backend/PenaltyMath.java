package org.cnn4j.backend;

import java.util.Arrays;

/**
 * The value and gradient of the {@link CombinationPenalty} terms for one output map's mixing
 * weights α (a softmax of c), written once in double precision for every backend to follow.
 */
public final class PenaltyMath {
    private PenaltyMath() {
    }

    /** λ·Ω(α) for α = alpha[off … off+m). */
    public static double value(double[] alpha, int off, int m, CombinationPenalty penalty, double lambda) {
        double total = 0;
        switch (penalty) {
            case NONE -> {
                return 0;
            }
            case SEED_L1 -> {
                for (int i = off; i < off + m; i++) total += Math.abs(alpha[i]);
            }
            case ENTROPY -> {
                for (int i = off; i < off + m; i++) if (alpha[i] > 0) total -= alpha[i] * Math.log(alpha[i]);
            }
        }
        return lambda * total;
    }

    /** out[0 … m) = ∂(λ·Ω)/∂c_i for α = alpha[off … off+m). */
    public static void gradient(double[] out, double[] alpha, int off, int m, CombinationPenalty penalty, double lambda) {
        switch (penalty) {
            case NONE -> Arrays.fill(out, 0, m, 0.0);
            case SEED_L1 -> {
                // Bouvrie's formula as written: λ(|α_i| − α_i Σ_k |α_k|).
                double sumAbs = 0;
                for (int i = 0; i < m; i++) sumAbs += Math.abs(alpha[off + i]);
                for (int i = 0; i < m; i++) out[i] = lambda * (Math.abs(alpha[off + i]) - alpha[off + i] * sumAbs);
            }
            case ENTROPY -> {
                double entropy = value(alpha, off, m, CombinationPenalty.ENTROPY, 1);
                for (int i = 0; i < m; i++) {
                    double a = alpha[off + i];
                    out[i] = a > 0 ? -lambda * a * (Math.log(a) + entropy) : 0;
                }
            }
        }
    }
}
