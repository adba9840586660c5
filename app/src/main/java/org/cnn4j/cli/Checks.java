package org.cnn4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.HostBackend;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Model;

/**
 * Up-front checks of command-line values: each failure is a {@link BadOption} that names the
 * option, the allowed range and what was given, raised before any work starts.
 */
final class Checks {
    private Checks() {
    }

    /** A value the command line cannot take: bad usage (exit code 2), reported in one line. */
    static final class BadOption extends IllegalArgumentException {
        BadOption(String message) {
            super(message);
        }
    }

    static int range(String option, int value, int min, int max) {
        return (int) range(option, (long) value, min, max);
    }

    static long range(String option, long value, long min, long max) {
        if (value < min || value > max) throw new BadOption(option + " must be between " + min + " and " + max + ", got " + value);
        return value;
    }

    /** A finite number in (min, max] when {@code openMin}, else in [min, max]. */
    static double range(String option, double value, double min, boolean openMin, double max) {
        if (!Double.isFinite(value) || (openMin ? value <= min : value < min) || value > max) {
            throw new BadOption(String.format(Locale.ROOT, "%s must be a number in %s%s, %s], got %s", option, openMin ? "(" : "[",
                    plain(min), plain(max), plain(value)));
        }
        return value;
    }

    /**
     * A size in bytes written as a number with an optional k, m or g (powers of 1024), between
     * {@code min} and {@code max}.
     */
    static long bytes(String option, String text, long min, long max) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        int shift = t.endsWith("k") ? 10 : t.endsWith("m") ? 20 : t.endsWith("g") ? 30 : 0;
        long value;
        try {
            value = Long.parseLong(shift == 0 ? t : t.substring(0, t.length() - 1));
        } catch (NumberFormatException e) {
            throw new BadOption(option + " must be a size such as 512m or 2g, got '" + text + "'");
        }
        if (value < 0 || value > max >> shift || value << shift < min) {
            throw new BadOption(option + " must be between " + min + " and " + max + " bytes, got '" + text + "'");
        }
        return value << shift;
    }

    /** Creates {@code dir} if need be and proves it writable by writing a file into it, so that a run fails now and not after its first epoch. */
    static Path writableDirectory(String option, Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new BadOption(option + " " + dir + " is a file, not a directory");
        try {
            Files.createDirectories(dir);
            Files.delete(Files.createTempFile(dir, ".cnn4j-write-test", ".tmp"));
        } catch (IOException | SecurityException e) {
            throw new BadOption(option + " " + dir + " is not a directory cnn4j can write into (" + e.getClass().getSimpleName() + ": "
                    + e.getMessage() + ")");
        }
        return dir;
    }

    /**
     * On a backend that computes in this JVM's heap, refuses a batch whose activations alone
     * ({@code copies} of every layer's output: 1 for inference, 2 for training, which keeps their
     * gradients too) cannot fit in the most memory the JVM may use, instead of running out of
     * memory half-way.
     */
    static void fitsInMemory(String option, int batch, Model model, Backend backend, int copies) {
        if (!(backend instanceof HostBackend)) return;
        long needed = (long) batch * copies * model.summary().activationBytes(), available = Runtime.getRuntime().maxMemory();
        if (needed > available) {
            throw new BadOption(String.format(Locale.ROOT, "%s %d needs at least %.1f GiB for the model's activations, more than the %.1f GiB "
                    + "this JVM may use; lower %s (or raise -Xmx)", option, batch, needed / 0x1p30, available / 0x1p30, option));
        }
    }

    /** A number as written on a command line: 5, not 5.0. */
    static String plain(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
