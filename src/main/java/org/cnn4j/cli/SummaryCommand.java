package org.cnn4j.cli;

import java.util.concurrent.Callable;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "summary", mixinStandardHelpOptions = true,
        description = "Prints a model's layers with output shapes, parameters, multiply-accumulates and activation memory.")
final class SummaryCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A built-in model (fmnist-cnn, lenet5, vgg-small) or a model file.")
    String model;

    @Override
    public Integer call() throws Exception {
        try (CpuBackend cpu = new CpuBackend(1); Model m = ModelSource.open(model, cpu, 0)) {
            System.out.println(m);
            System.out.println();
            System.out.println(m.summary());
        }
        return 0;
    }
}
