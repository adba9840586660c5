package org.cnn4j.cli;

import java.util.concurrent.Callable;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "summary", mixinStandardHelpOptions = true,
        description = "Prints a model's layers with output shapes, parameters, multiply-accumulates and activation memory.")
final class SummaryCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A built-in model (fmnist-cnn, lenet5, vgg-small) or a model file.")
    String model;

    @Option(names = "--fold-batch-norm", description = "Fold each batch normalisation into the convolution or dense layer before it "
            + "first (the same outputs to float rounding, one pass less per normalisation).")
    boolean fold;

    @Override
    public Integer call() throws Exception {
        try (CpuBackend cpu = new CpuBackend(1); Model m = ModelSource.folded(ModelSource.open(model, cpu, 0), fold)) {
            System.out.println(m);
            System.out.println();
            System.out.println(m.summary());
        }
        return 0;
    }
}
