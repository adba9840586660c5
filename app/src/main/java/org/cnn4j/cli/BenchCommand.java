package org.cnn4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.Devices;
import org.cnn4j.backend.cuda.CudaBackend;
import org.cnn4j.bench.LayerTimes;
import org.cnn4j.bench.TrainStepBenchmark;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import org.cnn4j.train.Trainer;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Times each layer's forward and backward pass of a built-in model on each device (the GPU when usable, against "
                + "the CPU), with the speed-up per layer and for the whole step, as a table and a PNG chart.")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "fmnist-cnn", description = "fmnist-cnn, lenet5 or vgg-small (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--batch", defaultValue = "256", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--devices", defaultValue = "cpu,gpu", split = ",",
            description = "Devices to compare, the first as the baseline; an unusable GPU is skipped with the reason (default: ${DEFAULT-VALUE}).")
    List<String> devices;

    @Option(names = "--windows", defaultValue = "5", description = "Timed windows; the median is reported (default: ${DEFAULT-VALUE}).")
    int windows;

    @Option(names = "--repeats", defaultValue = "5", description = "Passes per window (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--chart", description = "Write the per-layer chart to this PNG file.")
    Path chart;


    @Override
    public Integer call() throws Exception {
        Checks.range("--batch", batch, 1, Trainer.Options.MAX_BATCH);
        Checks.range("--windows", windows, 1, 1000);
        Checks.range("--repeats", repeats, 1, 1000);
        for (String device : devices) {
            try {
                Devices.Choice.parse(device);
            } catch (IllegalArgumentException e) {
                throw new Checks.BadOption("--devices: " + e.getMessage());
            }
        }
        if (chart != null && chart.toAbsolutePath().getParent() != null) Checks.writableDirectory("--chart's directory", chart.toAbsolutePath().getParent());
        List<String> names = new ArrayList<>();
        List<List<LayerTimes.Timing>> results = new ArrayList<>();
        List<String> memory = new ArrayList<>();
        for (String device : devices) {
            Devices.Choice choice = Devices.Choice.parse(device);
            Backend backend;
            try {
                backend = Devices.open(choice, 0);
            } catch (IllegalStateException e) {
                System.out.println("skipping " + device + ": " + e.getMessage());
                continue;
            }
            try (backend) {
                try (Model m = Models.byName(model).seed(1).build(backend)) {
                    names.add(backend.name());
                    results.add(LayerTimes.measure(m, batch, windows, repeats));
                }
                if (backend instanceof CudaBackend) {
                    // A fresh model's training steps alone, as torch.cuda.max_memory_allocated counts them.
                    long peak = TrainStepBenchmark.measure(model, batch, 1, 3, backend).peakBytes();
                    memory.add(String.format(Locale.ROOT, "peak device memory of a training step on %s: %.1f MiB "
                            + "(PyTorch's for the same model and batch: benchmarks/run)", backend.name(), peak / 1048576.0));
                }
            }
        }
        if (results.isEmpty()) throw new IllegalStateException("no device could run the benchmark");
        print(names, results);
        memory.forEach(System.out::println);
        if (chart != null) chart(names, results);
        return 0;
    }

    private void print(List<String> names, List<List<LayerTimes.Timing>> results) {
        List<LayerTimes.Timing> base = results.get(0);
        // the columns as wide as the longest layer name and description (ResNets' "layer1.0.conv1 Conv2d 16→16 3×3 pad 1 no bias")
        int nameWidth = Math.max(12, base.stream().mapToInt(t -> t.layer().length()).max().orElse(0));
        int descriptionWidth = Math.max(28, base.stream().mapToInt(t -> t.description().length()).max().orElse(0));
        String label = "%-" + nameWidth + "s %-" + descriptionWidth + "s";
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, label, "layer", ""));
        for (int d = 0; d < names.size(); d++) {
            header.append(String.format(Locale.ROOT, " | %10s %10s", "fwd ms", "bwd ms"));
            if (d > 0) header.append(String.format(Locale.ROOT, " %8s", "speed-up"));
        }
        System.out.printf(Locale.ROOT, "%s, batch %d; devices: %s%n%s%n", model, batch, String.join(" | ", names), header);
        double[] totals = new double[results.size()];
        for (int i = 0; i < base.size(); i++) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, label, base.get(i).layer(), base.get(i).description()));
            for (int d = 0; d < results.size(); d++) {
                LayerTimes.Timing t = results.get(d).get(i);
                totals[d] += t.totalMs();
                row.append(String.format(Locale.ROOT, " | %10.3f %10.3f", t.forwardMs(), t.backwardMs()));
                if (d > 0) row.append(String.format(Locale.ROOT, " %7.2fx", base.get(i).totalMs() / t.totalMs()));
            }
            System.out.println(row);
        }
        StringBuilder total = new StringBuilder(String.format(Locale.ROOT, "%-" + (nameWidth + 1 + descriptionWidth) + "s", "whole step (sum of layers)"));
        for (int d = 0; d < results.size(); d++) {
            total.append(String.format(Locale.ROOT, " | %21.3f", totals[d]));
            if (d > 0) total.append(String.format(Locale.ROOT, " %7.2fx", totals[0] / totals[d]));
        }
        System.out.println(total);
    }

    private void chart(List<String> names, List<List<LayerTimes.Timing>> results) throws java.io.IOException {
        CategoryChart c = new CategoryChartBuilder().width(1100).height(600).title(model + ", batch " + batch + ": forward + backward per layer")
                .xAxisTitle("layer").yAxisTitle("ms").build();
        c.getStyler().setXAxisLabelRotation(45);
        List<String> layers = results.get(0).stream().map(LayerTimes.Timing::layer).toList();
        for (int d = 0; d < results.size(); d++) c.addSeries(names.get(d), layers, results.get(d).stream().map(LayerTimes.Timing::totalMs).toList());
        Reports.png(chart, c);
        System.out.println("wrote " + chart);
    }
}
