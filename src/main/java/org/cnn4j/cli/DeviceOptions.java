package org.cnn4j.cli;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.Devices;
import picocli.CommandLine.Option;

/** {@code --device} and {@code --threads}, shared by the commands that compute. */
final class DeviceOptions {
    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or gpu (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: one per core).")
    int threads;

    Backend open() {
        return Devices.open(Devices.Choice.parse(device), threads);
    }
}
