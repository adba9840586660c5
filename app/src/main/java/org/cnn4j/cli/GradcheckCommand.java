package org.cnn4j.cli;

import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

import org.cnn4j.backend.reference.ReferenceBackend;
import org.cnn4j.model.GradientChecker;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Shape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "gradcheck", mixinStandardHelpOptions = true,
        description = "Checks a model's back-propagated gradients against central finite differences on random inputs "
                + "and labels, in double precision on the reference backend. Exit code 1 when a gradient is off.")
final class GradcheckCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", defaultValue = "lenet5",
            description = "A built-in model or a model file (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--batch", defaultValue = "2", description = "Samples in the random batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--elements", defaultValue = "50", description = "Elements checked per tensor, chosen at random (default: ${DEFAULT-VALUE}).")
    int elements;

    @Option(names = "--tolerance", defaultValue = "1e-3", description = "Largest relative error accepted (default: ${DEFAULT-VALUE}).")
    double tolerance;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the weights and the random batch (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        Checks.range("--batch", batch, 1, 1024);
        Checks.range("--elements", elements, 1, 1_000_000);
        Checks.range("--tolerance", tolerance, 0, true, 1);
        try (ReferenceBackend reference = new ReferenceBackend(); Model m = ModelSource.open(model, reference, seed)) {
            Random rng = new Random(seed);
            Shape xShape = m.inputShape().batch(batch);
            double[] x = new double[xShape.size()];
            for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
            int[] labels = new int[batch];
            for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(m.outputShape().size());
            GradientChecker.Options options = GradientChecker.Options.forPrecision(DType.FLOAT64).withMaxElementsPerTensor(elements);
            long checks = m.parameters().stream().mapToLong(p -> Math.min(elements, p.value().shape().size())).sum() + Math.min(elements, xShape.size());
            System.out.printf(Locale.ROOT, "checking %,d elements of %d tensors in float64, 4 forward passes each (more at kinks)%n",
                    checks, m.parameters().size() + 1);
            System.out.println(GradientChecker.TensorReport.HEADER);
            GradientChecker.Report report = GradientChecker.check(m, reference.upload(xShape, x), reference.uploadInts(Shape.of(batch), labels),
                    options, t -> System.out.println(t.row()));
            boolean ok = report.passed(tolerance);
            System.out.printf(Locale.ROOT, "%s: worst relative error %.3e over %d elements (%d skipped at kinks), tolerance %.1e%n",
                    ok ? "PASSED" : "FAILED", report.worstError(), report.checked(), report.skipped(), tolerance);
            return ok ? 0 : 1;
        }
    }
}
