package org.cnn4j.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.backend.cuda.CudaBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a backend is chosen for a device request, with the reason logged once.
 * {@code auto} takes the GPU when one is usable, else the CPU; {@code gpu} fails with the reason
 * when none is; {@code cpu} is always there.
 */
public final class Devices {
    private static final Logger log = LoggerFactory.getLogger(Devices.class);

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

    /** A backend for the choice with the default GPU options; {@code threads} ≤ 0 means one per core (CPU backend). */
    public static Backend open(Choice choice, int threads) {
        return open(choice, threads, CudaBackend.Options.defaults());
    }

    public static Backend open(Choice choice, int threads, CudaBackend.Options gpu) {
        int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        return switch (choice) {
            case CPU -> new CpuBackend(t);
            case GPU -> {
                try {
                    yield CudaBackend.open(gpu);
                } catch (LinkageError | RuntimeException e) {
                    throw new IllegalStateException("--device gpu: no usable GPU: " + reason(e) + "; use --device cpu or auto", e);
                }
            }
            case AUTO -> {
                try {
                    yield CudaBackend.open(gpu);
                } catch (LinkageError | RuntimeException e) {
                    log.info("device auto: using the CPU ({} threads) because no GPU is usable: {}", t, reason(e));
                    yield new CpuBackend(t);
                }
            }
        };
    }

    /** Why the GPU backend could not start, in one line. */
    public static String reason(Throwable e) {
        String full = String.valueOf(e.getMessage());
        String message = full.lines().findFirst().orElse("");
        if (e instanceof LinkageError) {
            // JCuda's message runs to many lines; the loader's own complaint (e.g. "libcuda.so.1: cannot open
            // shared object file") is the useful one.
            String cause = full.lines().filter(l -> l.contains("cannot open shared object")).findFirst()
                    .map(l -> l.substring(l.indexOf("lib", l.indexOf(".so:") + 1))).orElse(message);
            return "the CUDA driver (libcuda.so.1) or JCuda's native library cannot be loaded: " + cause.strip();
        }
        return message;
    }

    /** One line per device, for the {@code devices} command. */
    public static List<String> describe() {
        List<String> lines = new ArrayList<>();
        Runtime rt = Runtime.getRuntime();
        lines.add(String.format(Locale.ROOT, "cpu: %s, %d cores, %s %s, Java %s, max heap %d MiB — available",
                System.getProperty("os.arch"), rt.availableProcessors(), System.getProperty("os.name"), System.getProperty("os.version"),
                Runtime.version(), rt.maxMemory() >> 20));
        lines.add("  kernels: " + CpuBackend.kernels());
        try (CudaBackend gpu = CudaBackend.open(CudaBackend.Options.defaults())) {
            List<String> about = gpu.describe();
            lines.add("gpu: " + about.getFirst() + " — available");
            about.stream().skip(1).map(l -> "  " + l).forEach(lines::add);
        } catch (LinkageError | RuntimeException e) {
            lines.add("gpu: not available — " + reason(e));
        }
        return lines;
    }
}
