package org.cnn4j.train;

import java.util.Locale;

/**
 * A learning-rate schedule: the rate for an epoch (0-based) of a run of {@code epochs}, from the
 * base rate. Written as text for the command line and checkpoints: {@code constant},
 * {@code step:EVERY:GAMMA} (multiply by GAMMA every EVERY epochs), {@code cosine} (half a cosine
 * from the base rate down to 0 over the run, per epoch).
 */
public sealed interface Schedule {
    double rate(double base, int epoch, int epochs);

    /** The text {@link #parse} reads back. */
    String text();

    record Constant() implements Schedule {
        @Override
        public double rate(double base, int epoch, int epochs) {
            return base;
        }

        @Override
        public String text() {
            return "constant";
        }
    }

    record Step(int every, double gamma) implements Schedule {
        public Step {
            if (every < 1 || !(gamma > 0)) throw new IllegalArgumentException("step schedule needs every >= 1 and gamma > 0, got " + every + ", " + gamma);
        }

        @Override
        public double rate(double base, int epoch, int epochs) {
            return base * Math.pow(gamma, epoch / every);
        }

        @Override
        public String text() {
            return "step:" + every + ":" + gamma;
        }
    }

    record Cosine() implements Schedule {
        @Override
        public double rate(double base, int epoch, int epochs) {
            return epochs <= 1 ? base : 0.5 * base * (1 + Math.cos(Math.PI * epoch / epochs));
        }

        @Override
        public String text() {
            return "cosine";
        }
    }

    static Schedule parse(String text) {
        String[] parts = text.trim().toLowerCase(Locale.ROOT).split(":");
        try {
            return switch (parts[0]) {
                case "constant" -> new Constant();
                case "cosine" -> new Cosine();
                case "step" -> new Step(parts.length > 1 ? Integer.parseInt(parts[1]) : 10, parts.length > 2 ? Double.parseDouble(parts[2]) : 0.1);
                default -> throw new IllegalArgumentException("unknown schedule '" + text + "'; use constant, cosine or step:EVERY:GAMMA");
            };
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad schedule '" + text + "'; step takes step:EVERY:GAMMA, e.g. step:10:0.1", e);
        }
    }
}
