import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.cnn4j.jmh.ConvBenchmark;
import org.cnn4j.jmh.PeakFmaBenchmark;

/** Turns JMH's CSV (µs per call) into GFLOP/s and the fraction of the measured FMA peak (per core, or two cores for the convolutions). */
public class Report {
    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        double peak = 0;
        StringBuilder rows = new StringBuilder();
        for (String line : lines.subList(1, lines.size())) {
            String[] c = line.replace("\"", "").split(",");
            String name = c[0];
            double us = Double.parseDouble(c[4]);
            if (name.endsWith("PeakFmaBenchmark.fma")) {
                peak = 2.0 * PeakFmaBenchmark.lanes() * 12 * PeakFmaBenchmark.PEAK_ITERATIONS / (us * 1e3);
            }
        }
        for (String line : lines.subList(1, lines.size())) {
            String[] c = line.replace("\"", "").split(",");
            int pass = c[0].lastIndexOf("ConvBenchmark.");
            if (pass >= 0) { // the last field: the layer's c-hw-k (split drops the empty shape column after it)
                String layer = c[c.length - 1];
                double gflops = ConvBenchmark.flops(layer) / (Double.parseDouble(c[4]) * 1e3);
                rows.append(String.format("conv %-9s %-15s %8.1f GFLOP/s  (%4.1f%% of two cores' measured peak)%n", layer,
                        c[0].substring(pass + "ConvBenchmark.".length()), gflops, 100 * gflops / (2 * peak)));
                continue;
            }
            if (!c[0].endsWith("SgemmBenchmark.gemm")) continue;
            String[] mnk = {c[c.length - 3], c[c.length - 2], c[c.length - 1]};
            double flops = 2.0 * Double.parseDouble(mnk[0]) * Double.parseDouble(mnk[1]) * Double.parseDouble(mnk[2]);
            double gflops = flops / (Double.parseDouble(c[4]) * 1e3);
            rows.append(String.format("gemm %sx%sx%s: %8.1f GFLOP/s  (%4.1f%% of the measured peak)%n", mnk[0], mnk[1], mnk[2], gflops,
                    100 * gflops / peak));
        }
        System.out.printf("measured single-core FMA peak: %.1f GFLOP/s (%d float lanes)%n%s", peak, PeakFmaBenchmark.lanes(), rows);
    }
}
