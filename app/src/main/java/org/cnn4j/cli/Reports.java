package org.cnn4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

import org.cnn4j.io.AtomicFiles;
import org.cnn4j.train.ConfusionMatrix;
import org.cnn4j.train.EpochMetrics;
import org.cnn4j.train.Evaluation;
import org.cnn4j.train.Trainer;
import org.cnn4j.train.TrainingListener;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes what a person looks at after training, into a directory, after every epoch:
 * {@code metrics.csv} (one row per epoch, {@link EpochMetrics#CSV_HEADER}), {@code loss.png} and
 * {@code accuracy.png} (train and test curves), and {@code confusion.png} (the test set's confusion
 * matrix, true class down, predicted class across). Each file is replaced atomically.
 *
 * <p>Charts need Java to draw text, hence a font (through fontconfig on Linux). Where it cannot (a
 * server or container with no fonts installed), training goes on: the CSV is still written after
 * every epoch, the reason is logged once, and {@link #chartsUnavailable()} tells it.
 */
public final class Reports implements TrainingListener {
    private static final Logger log = LoggerFactory.getLogger(Reports.class);
    public static final String CSV = "metrics.csv", LOSS = "loss.png", ACCURACY = "accuracy.png", CONFUSION = "confusion.png";
    private final Path dir;
    private final ChartWriter charts;
    private String chartsUnavailable;

    /** Writes a chart into a file: {@link Reports#png}, or a stand-in in tests. */
    @FunctionalInterface
    interface ChartWriter {
        void write(Path file, Chart<?, ?> chart) throws IOException;
    }

    /** Java could not draw a chart (no fonts, say); the message names the file and what to install. */
    public static final class ChartUnavailable extends IllegalStateException {
        ChartUnavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    public Reports(Path dir) {
        this(dir, Reports::png);
    }

    Reports(Path dir, ChartWriter charts) {
        this.dir = dir;
        this.charts = charts;
    }

    @Override
    public void epochDone(EpochMetrics metrics, Evaluation test, Trainer trainer) {
        List<EpochMetrics> history = trainer.history();
        try {
            StringBuilder csv = new StringBuilder(EpochMetrics.CSV_HEADER).append('\n');
            for (EpochMetrics m : history) csv.append(m.csv()).append('\n');
            AtomicFiles.write(dir.resolve(CSV), out -> out.write(csv.toString().getBytes(StandardCharsets.UTF_8)));
            if (chartsUnavailable != null) return;
            charts.write(dir.resolve(LOSS), curves("Loss", history, EpochMetrics::trainLoss, EpochMetrics::testLoss));
            charts.write(dir.resolve(ACCURACY), curves("Accuracy", history, EpochMetrics::trainAccuracy, EpochMetrics::testAccuracy));
            if (test != null) charts.write(dir.resolve(CONFUSION), confusion(test.confusion(), trainer.dataInfo().classNames()));
        } catch (ChartUnavailable e) {
            chartsUnavailable = e.getMessage();
            log.warn("{}; training goes on without charts ({} has the figures)", chartsUnavailable, CSV);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the training reports to " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Why the charts are not being drawn, once a chart has failed; empty while they are. */
    public Optional<String> chartsUnavailable() {
        return Optional.ofNullable(chartsUnavailable);
    }

    /** The files this listener has been writing, for a closing message: the CSV, and the charts unless they could not be drawn. */
    public String written() {
        return chartsUnavailable == null ? String.join(", ", CSV, LOSS, ACCURACY, CONFUSION) : CSV + " (no charts: " + chartsUnavailable + ")";
    }

    /** The confusion matrix as a PNG heat map with the counts written in. */
    public static void writeConfusion(Path file, ConfusionMatrix m, List<String> classNames) throws IOException {
        png(file, confusion(m, classNames));
    }

    private static XYChart curves(String what, List<EpochMetrics> history, ToDoubleFunction<EpochMetrics> train,
                                  ToDoubleFunction<EpochMetrics> test) {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(what + " per epoch").xAxisTitle("epoch").yAxisTitle(what.toLowerCase()).build();
        double[] epochs = history.stream().mapToDouble(EpochMetrics::epoch).toArray();
        chart.addSeries("train", epochs, history.stream().mapToDouble(train).toArray());
        double[] testValues = history.stream().mapToDouble(test).toArray();
        if (java.util.Arrays.stream(testValues).noneMatch(Double::isNaN)) chart.addSeries("test", epochs, testValues);
        chart.getStyler().setXAxisDecimalPattern("0");
        return chart;
    }

    private static HeatMapChart confusion(ConfusionMatrix m, List<String> classNames) {
        int k = m.classes();
        HeatMapChart chart = new HeatMapChartBuilder().width(120 + 70 * k).height(100 + 60 * k)
                .title(String.format(java.util.Locale.ROOT, "Confusion matrix (test accuracy %.2f%%)", 100 * m.accuracy()))
                .xAxisTitle("predicted").yAxisTitle("true").build();
        List<Number[]> cells = new ArrayList<>();
        for (int t = 0; t < k; t++) for (int p = 0; p < k; p++) cells.add(new Number[] {p, k - 1 - t, m.count(t, p)});
        List<String> reversed = new ArrayList<>(classNames);
        java.util.Collections.reverse(reversed);
        chart.addSeries("count", classNames, reversed, cells);
        chart.getStyler().setShowValue(true);
        chart.getStyler().setHeatMapValueDecimalPattern("0");
        chart.getStyler().setXAxisLabelRotation(45);
        return chart;
    }

    /**
     * Writes a chart as a PNG file, atomically; throws {@link ChartUnavailable} when Java cannot
     * draw it (no fonts or no graphics libraries), leaving no file.
     */
    public static void png(Path file, Chart<?, ?> chart) throws IOException {
        byte[] bytes;
        try {
            bytes = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        } catch (RuntimeException | Error e) {
            if (e instanceof VirtualMachineError vm) throw vm;
            throw new ChartUnavailable("cannot draw " + file.getFileName() + " (" + e + "): Java draws text with the system's fonts;"
                    + " where none are installed, install some with fontconfig (Debian and Ubuntu: fonts-dejavu-core fontconfig)", e);
        }
        AtomicFiles.write(file, out -> out.write(bytes));
    }
}
