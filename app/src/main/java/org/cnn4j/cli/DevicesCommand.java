package org.cnn4j.cli;

import org.cnn4j.backend.Devices;
import picocli.CommandLine.Command;

@Command(name = "devices", mixinStandardHelpOptions = true, description = "Lists the devices cnn4j can compute on.")
final class DevicesCommand implements Runnable {
    @Override
    public void run() {
        Devices.describe().forEach(System.out::println);
    }
}
