package org.cnn4j.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.cnn4j.backend.cpu.CpuBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a backend is chosen for a device request, with the reason logged once.
 * {@code auto} takes a GPU when one is usable, else the CPU; {@code gpu} fails with the reason
 * when none is; {@code cpu} is always there.
 */
public final class Devices {
    private static final Logger log = LoggerFactory.getLogger(Devices.class);

    /** Why there is no GPU backend in this version. */
    public static final String NO_GPU_REASON = "this version of cnn4j has no CUDA backend yet (it comes with the CUDA backend issue)";

    public enum Choice {
        AUTO, CPU, GPU;

        public static Choice parse(String text) {
            try {
                return valueOf(text.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("device must be auto, cpu or gpu, got '" + text + "'");
            }
        }
    }

    private Devices() {
    }

    /** A backend for the choice; {@code threads} ≤ 0 means one per core (CPU backend). */
    public static Backend open(Choice choice, int threads) {
        int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        return switch (choice) {
            case GPU -> throw new IllegalStateException("--device gpu: no GPU is available: " + NO_GPU_REASON + "; use --device cpu or auto");
            case AUTO -> {
                log.info("device auto: using the CPU ({} threads) because {}", t, NO_GPU_REASON);
                yield new CpuBackend(t);
            }
            case CPU -> new CpuBackend(t);
        };
    }

    /** One line per device, for the {@code devices} command. */
    public static List<String> describe() {
        List<String> lines = new ArrayList<>();
        Runtime rt = Runtime.getRuntime();
        lines.add(String.format(Locale.ROOT, "cpu: %s, %d cores, %s %s, Java %s, max heap %d MiB — available",
                System.getProperty("os.arch"), rt.availableProcessors(), System.getProperty("os.name"), System.getProperty("os.version"),
                Runtime.version(), rt.maxMemory() >> 20));
        lines.add("gpu: not available — " + NO_GPU_REASON);
        return lines;
    }
}
