package org.cnn4j.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.cnn4j.cli.Reports;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * The table of benchmarks/run: reads the CSV rows of {@link BenchmarkSuite} and of
 * benchmarks/torch_reference.py, and for each device kind (cpu, gpu tf32, gpu fp32: the same
 * math mode on both sides), model and mode prints cnn4j's images/s, PyTorch's best (the faster of
 * eager and CUDA-graphed) and the ratio; writes the merged rows as CSV and a bar chart of
 * images/s as PNG.
 *
 * <p>The script may run several rounds, each cnn4j then PyTorch, so that both sides see the same
 * moments of a shared machine: a file named {@code …-R.csv} holds round R. The ratio is then
 * taken within each round and the table gives the median over rounds, with the lowest and highest
 * in brackets; the images/s columns are medians too.
 *
 * <p>Usage: {@code BenchmarkReport OUT_DIR CSV...}.
 */
public final class BenchmarkReport {
    private static final Pattern ROUND = Pattern.compile(".*-(\\d+)\\.csv$");

    /** One measurement; peakMib is the training step's peak device memory, NaN where not measured (the CPU, inference). */
    record Row(String implementation, String device, String model, int batch, String mode, double msPerStep, double imagesPerSecond,
               int round, double peakMib) {
        Row(String implementation, String device, String model, int batch, String mode, double msPerStep, double imagesPerSecond) {
            this(implementation, device, model, batch, mode, msPerStep, imagesPerSecond, 1);
        }

        Row(String implementation, String device, String model, int batch, String mode, double msPerStep, double imagesPerSecond,
            int round) {
            this(implementation, device, model, batch, mode, msPerStep, imagesPerSecond, round, Double.NaN);
        }

        /** "cpu", "gpu tf32" or "gpu fp32" (from the device label's " TF32" / " FP32" ending). */
        String kind() {
            if (device.startsWith("cpu")) return "cpu";
            return device.endsWith(" FP32") ? "gpu fp32" : "gpu tf32";
        }
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        List<Row> rows = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            Path csv = Path.of(args[i]);
            if (!Files.exists(csv)) continue;
            Matcher m = ROUND.matcher(csv.getFileName().toString());
            int round = m.matches() ? Integer.parseInt(m.group(1)) : 1;
            List<String> lines = Files.readAllLines(csv);
            for (String line : lines.subList(1, lines.size())) {
                String[] c = line.split(",", -1);
                double peak = c.length > 7 && !c[7].isBlank() ? Double.parseDouble(c[7]) : Double.NaN;
                rows.add(new Row(c[0], c[1], c[2], Integer.parseInt(c[3]), c[4], Double.parseDouble(c[5]), Double.parseDouble(c[6]), round,
                        peak));
            }
        }
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(dir.resolve("results.csv")))) {
            w.println("round,implementation,device,model,batch,mode,ms_per_step,images_per_second,peak_mib");
            for (Row r : rows) {
                w.printf(Locale.ROOT, "%d,%s,%s,%s,%d,%s,%.3f,%.1f,%s%n", r.round(), r.implementation(), r.device(), r.model(), r.batch(), r.mode(),
                        r.msPerStep(), r.imagesPerSecond(), Double.isNaN(r.peakMib()) ? "" : String.format(Locale.ROOT, "%.1f", r.peakMib()));
            }
        }
        if (rows.stream().noneMatch(r -> r.implementation().equals("cnn4j"))) {
            System.out.println("no cnn4j measurements to report (no usable device among those asked for); wrote " + dir.resolve("results.csv"));
            return;
        }
        System.out.println(table(rows));
        String memory = memoryTable(rows);
        if (!memory.isEmpty()) System.out.println(memory);
        chart(rows, dir.resolve("results.png"));
        System.out.println("wrote " + dir.resolve("results.csv") + " and " + dir.resolve("results.png"));
    }

    static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-8s %-10s %5s %-5s  %-36s %12s  %-14s %12s %7s%n",
                "kind", "model", "batch", "mode", "cnn4j device", "cnn4j img/s", "pytorch best", "img/s", "ratio"));
        for (List<Row> runs : ourRuns(rows, r -> true).values()) {
            Row first = runs.get(0);
            List<Double> ours = new ArrayList<>(), theirs = new ArrayList<>(), ratios = new ArrayList<>();
            Map<String, Integer> bestNames = new LinkedHashMap<>();
            for (Row r : runs) {
                ours.add(r.imagesPerSecond());
                Row best = pytorchBest(rows, r);
                if (best == null) continue;
                theirs.add(best.imagesPerSecond());
                ratios.add(r.imagesPerSecond() / best.imagesPerSecond());
                bestNames.merge(best.implementation(), 1, Integer::sum);
            }
            String bestName = bestNames.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse("-");
            String ratio = ratios.isEmpty() ? "-" : String.format(Locale.ROOT, "%.2fx", median(ratios));
            if (ratios.size() > 1) {
                ratio += String.format(Locale.ROOT, " (%.2f-%.2f over %d rounds)", Collections.min(ratios), Collections.max(ratios), ratios.size());
            }
            sb.append(String.format(Locale.ROOT, "%-8s %-10s %5d %-5s  %-36s %12.0f  %-14s %12s %7s%n", first.kind(), first.model(),
                    first.batch(), first.mode(), shortDevice(first), median(ours),
                    bestName, theirs.isEmpty() ? "-" : String.format(Locale.ROOT, "%.0f", median(theirs)), ratio));
        }
        return sb.toString();
    }

    /**
     * Peak device memory of the training step, cnn4j's against PyTorch eager's
     * (torch.cuda.max_memory_allocated) for the same model, batch and math mode: medians over rounds.
     * Empty when no row has a peak (a machine without a GPU).
     */
    static String memoryTable(List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        Map<String, List<Row>> ours = ourRuns(rows, r -> r.mode().equals("train") && !Double.isNaN(r.peakMib()));
        if (ours.isEmpty()) return "";
        sb.append(String.format(Locale.ROOT, "peak device memory of a training step%n%-8s %-10s %5s  %-36s %11s %15s %7s%n", "kind", "model",
                "batch", "cnn4j device", "cnn4j MiB", "pytorch MiB", "ratio"));
        for (List<Row> runs : ours.values()) {
            Row first = runs.get(0);
            List<Double> mine = new ArrayList<>(), theirs = new ArrayList<>();
            for (Row r : runs) {
                mine.add(r.peakMib());
                for (Row t : rows) {
                    if (t.implementation().equals("pytorch-eager") && sameMeasurement(t, r) && t.batch() == r.batch() && !Double.isNaN(t.peakMib())) {
                        theirs.add(t.peakMib());
                    }
                }
            }
            double m = median(mine);
            String other = theirs.isEmpty() ? "-" : String.format(Locale.ROOT, "%.1f", median(theirs));
            String ratio = theirs.isEmpty() ? "-" : String.format(Locale.ROOT, "%.2fx", m / median(theirs));
            sb.append(String.format(Locale.ROOT, "%-8s %-10s %5d  %-36s %11.1f %15s %7s%n", first.kind(), first.model(), first.batch(),
                    shortDevice(first), m, other, ratio));
        }
        return sb.toString();
    }

    /** cnn4j's rows that {@code keep} accepts, by kind, model, batch, mode and device, each with its rounds in order. */
    private static Map<String, List<Row>> ourRuns(List<Row> rows, Predicate<Row> keep) {
        Map<String, List<Row>> runs = new LinkedHashMap<>();
        for (Row r : rows) {
            if (r.implementation().equals("cnn4j") && keep.test(r)) {
                runs.computeIfAbsent(String.join("|", r.kind(), r.model(), "" + r.batch(), r.mode(), r.device()), k -> new ArrayList<>()).add(r);
            }
        }
        return runs;
    }

    /** Whether two rows measure the same thing in the same round: kind (and math mode), model and mode. */
    private static boolean sameMeasurement(Row a, Row b) {
        return a.round() == b.round() && a.kind().equals(b.kind()) && a.model().equals(b.model()) && a.mode().equals(b.mode());
    }

    private static String shortDevice(Row r) {
        return r.device().length() > 36 ? r.device().substring(0, 36) : r.device();
    }

    /** PyTorch's fastest row of the same round, kind, model and mode, or null. */
    private static Row pytorchBest(List<Row> rows, Row ours) {
        Row best = null;
        for (Row r : rows) {
            if (r.implementation().startsWith("pytorch") && sameMeasurement(r, ours)
                    && (best == null || r.imagesPerSecond() > best.imagesPerSecond())) {
                best = r;
            }
        }
        return best;
    }

    static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static void chart(List<Row> rows, Path file) throws IOException {
        Set<String> groups = new LinkedHashSet<>();
        Map<String, Map<String, List<Double>>> series = new LinkedHashMap<>();
        for (Row r : rows) {
            String group = r.model() + " " + r.mode();
            groups.add(group);
            series.computeIfAbsent(r.implementation() + " (" + r.kind() + ")", k -> new LinkedHashMap<>())
                    .computeIfAbsent(group, k -> new ArrayList<>()).add(r.imagesPerSecond());
        }
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(600)
                .title("Training and inference images per second (higher is better; median over rounds)")
                .xAxisTitle("model and mode").yAxisTitle("images/s").build();
        List<String> x = new ArrayList<>(groups);
        for (Map.Entry<String, Map<String, List<Double>>> s : series.entrySet()) {
            List<Double> y = new ArrayList<>();
            for (String g : x) y.add(s.getValue().containsKey(g) ? median(s.getValue().get(g)) : 0.0);
            chart.addSeries(s.getKey(), x, y);
        }
        Reports.png(file, chart);
    }
}
