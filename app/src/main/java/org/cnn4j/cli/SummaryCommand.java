package org.cnn4j.cli;

import java.util.concurrent.Callable;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "summary", mixinStandardHelpOptions = true,
        description = "Prints a model's layers with output shapes, parameters, multiply-accumulates and activation memory.")
final class SummaryCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A built-in model (fmnist-cnn, lenet5, vgg-small, resnet20, resnet18) or a model "
            + "file (.safetensors or .onnx).")
    String model;

    @Option(names = "--image-size", paramLabel = "N", description = "For resnet20 and resnet18: the side of their RGB input (default: 32).")
    Integer imageSize;

    @Option(names = "--classes", paramLabel = "K", description = "For a built-in model: the classes it tells apart (default: 10).")
    Integer classes;

    @Option(names = "--fold-batch-norm", description = "Fold each batch normalisation into the convolution or dense layer before it "
            + "first (the same outputs to float rounding, one pass less per normalisation).")
    boolean fold;

    @Override
    public Integer call() throws Exception {
        if (imageSize != null) Checks.range("--image-size", imageSize, 1, 4096);
        if (classes != null) Checks.range("--classes", classes, 1, 1 << 20);
        boolean file = java.nio.file.Files.exists(java.nio.file.Path.of(model));
        if ((imageSize != null || classes != null) && (file || imageSize != null && !Models.anyInput(model))) {
            throw new Checks.BadOption((imageSize != null ? "--image-size" : "--classes") + " applies to "
                    + (imageSize != null ? "resnet20 and resnet18" : "the built-in models") + ", not to " + model);
        }
        try (CpuBackend cpu = new CpuBackend(1); Model m = ModelSource.folded(file || imageSize == null && classes == null
                ? ModelSource.open(model, cpu, 0) : builtIn(cpu), fold)) {
            System.out.println(m);
            System.out.println();
            System.out.println(m.summary());
        }
        return 0;
    }

    private Model builtIn(CpuBackend cpu) throws java.nio.file.NoSuchFileException {
        ModelSource.requireKnown(model);
        int side = imageSize != null ? imageSize : 32;
        return Models.byName(model, Models.anyInput(model) ? new int[] {3, side, side} : null, classes != null ? classes : 10).build(cpu);
    }
}
