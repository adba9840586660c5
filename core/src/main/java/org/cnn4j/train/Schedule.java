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
            if (every < 1 || !(gamma > 0) || !Double.isFinite(gamma)) {
                throw new IllegalArgumentException("a step schedule needs EVERY >= 1 and a finite GAMMA > 0, got " + every + " and " + gamma);
            }
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

    /** The schedule {@link #text()} wrote; anything else is refused with a message that shows the forms. */
    static Schedule parse(String text) {
        String[] parts = text.trim().toLowerCase(Locale.ROOT).split(":", -1);
        String forms = "; use constant, cosine or step:EVERY:GAMMA (e.g. step:10:0.1)";
        try {
            return switch (parts[0]) {
                case "constant", "cosine" -> {
                    if (parts.length != 1) throw new IllegalArgumentException("schedule '" + text + "' takes no arguments" + forms);
                    yield parts[0].equals("constant") ? new Constant() : new Cosine();
                }
                case "step" -> {
                    if (parts.length != 1 && parts.length != 3) throw new IllegalArgumentException("bad schedule '" + text + "'" + forms);
                    yield parts.length == 1 ? new Step(10, 0.1) : new Step(Integer.parseInt(parts[1]), Double.parseDouble(parts[2]));
                }
                default -> throw new IllegalArgumentException("unknown schedule '" + text + "'" + forms);
            };
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad schedule '" + text + "'" + forms, e);
        }
    }
}
