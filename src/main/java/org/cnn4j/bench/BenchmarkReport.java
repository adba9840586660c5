package org.cnn4j.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.cnn4j.train.Reports;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * The table of benchmarks/run: reads the CSV rows of {@link BenchmarkSuite} and of
 * benchmarks/torch_reference.py, and for each device kind (cpu, gpu), model and mode prints
 * cnn4j's images/s, PyTorch's best (the faster of eager and CUDA-graphed) and the ratio; writes
 * the merged rows as CSV and a bar chart of images/s as PNG.
 *
 * <p>Usage: {@code BenchmarkReport OUT_DIR CSV...}.
 */
public final class BenchmarkReport {
    record Row(String implementation, String device, String model, int batch, String mode, double msPerStep, double imagesPerSecond) {
        /** "cpu" or "gpu". */
        String kind() {
            return device.startsWith("cpu") ? "cpu" : "gpu";
        }
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        List<Row> rows = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            Path csv = Path.of(args[i]);
            if (!Files.exists(csv)) continue;
            for (String line : Files.readAllLines(csv).subList(1, Files.readAllLines(csv).size())) {
                String[] c = line.split(",");
                rows.add(new Row(c[0], c[1], c[2], Integer.parseInt(c[3]), c[4], Double.parseDouble(c[5]), Double.parseDouble(c[6])));
            }
        }
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(dir.resolve("results.csv")))) {
            w.println("implementation,device,model,batch,mode,ms_per_step,images_per_second");
            for (Row r : rows) {
                w.printf(Locale.ROOT, "%s,%s,%s,%d,%s,%.3f,%.1f%n", r.implementation(), r.device(), r.model(), r.batch(), r.mode(),
                        r.msPerStep(), r.imagesPerSecond());
            }
        }
        System.out.println(table(rows));
        chart(rows, dir.resolve("results.png"));
        System.out.println("wrote " + dir.resolve("results.csv") + " and " + dir.resolve("results.png"));
    }

    static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-4s %-10s %5s %-5s  %-36s %12s  %-14s %12s %7s%n",
                "kind", "model", "batch", "mode", "cnn4j device", "cnn4j img/s", "pytorch best", "img/s", "ratio"));
        for (Row ours : rows) {
            if (!ours.implementation().equals("cnn4j")) continue;
            Row best = null;
            for (Row r : rows) {
                if (r.implementation().startsWith("pytorch") && r.kind().equals(ours.kind()) && r.model().equals(ours.model())
                        && r.mode().equals(ours.mode()) && (best == null || r.imagesPerSecond() > best.imagesPerSecond())) {
                    best = r;
                }
            }
            sb.append(String.format(Locale.ROOT, "%-4s %-10s %5d %-5s  %-36s %12.0f  %-14s %12s %7s%n", ours.kind(), ours.model(), ours.batch(),
                    ours.mode(), ours.device().length() > 36 ? ours.device().substring(0, 36) : ours.device(), ours.imagesPerSecond(),
                    best == null ? "-" : best.implementation(), best == null ? "-" : String.format(Locale.ROOT, "%.0f", best.imagesPerSecond()),
                    best == null ? "-" : String.format(Locale.ROOT, "%.2fx", ours.imagesPerSecond() / best.imagesPerSecond())));
        }
        return sb.toString();
    }

    private static void chart(List<Row> rows, Path file) throws IOException {
        Set<String> groups = new LinkedHashSet<>();
        Map<String, Map<String, Double>> series = new LinkedHashMap<>();
        for (Row r : rows) {
            String group = r.model() + " " + r.mode();
            groups.add(group);
            series.computeIfAbsent(r.implementation() + " (" + r.kind() + ")", k -> new LinkedHashMap<>()).put(group, r.imagesPerSecond());
        }
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(600).title("Training and inference images per second (higher is better)")
                .xAxisTitle("model and mode").yAxisTitle("images/s").build();
        List<String> x = new ArrayList<>(groups);
        for (Map.Entry<String, Map<String, Double>> s : series.entrySet()) {
            List<Double> y = new ArrayList<>();
            for (String g : x) y.add(s.getValue().getOrDefault(g, 0.0));
            chart.addSeries(s.getKey(), x, y);
        }
        Reports.png(file, chart);
    }
}
