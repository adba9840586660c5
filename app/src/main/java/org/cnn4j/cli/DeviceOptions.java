package org.cnn4j.cli;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.Devices;
import org.cnn4j.backend.cuda.CudaBackend;
import picocli.CommandLine.Option;

/** {@code --device}, {@code --threads} and the GPU's math settings, shared by the commands that compute. */
final class DeviceOptions {
    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or gpu (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads, up to 1024 (default: 0, one per core).")
    int threads;

    @Option(names = "--fp32", description = "GPU: strict float32 convolutions (default: TF32 allowed in convolutions, as PyTorch).")
    boolean strict;

    @Option(names = "--deterministic", description = "GPU: deterministic cuDNN algorithms only.")
    boolean deterministic;

    /** The most CPU threads: far more than any machine's cores, few enough to start. */
    static final int MAX_THREADS = 1024;

    /** Checks the options' values (see {@link Checks}). */
    void check() {
        Checks.range("--threads", threads, 0, MAX_THREADS);
        try {
            Devices.Choice.parse(device);
        } catch (IllegalArgumentException e) {
            throw new Checks.BadOption("--" + e.getMessage());
        }
    }

    Backend open() {
        return open(0);
    }

    /** The backend, a GPU being the driver's number {@code gpu} (a data-parallel process's local rank). */
    Backend open(int gpu) {
        check();
        CudaBackend.Options options = CudaBackend.Options.defaults().deterministic(deterministic).device(gpu);
        return Devices.open(Devices.Choice.parse(device), threads, strict ? options.strictFloat32() : options);
    }
}
