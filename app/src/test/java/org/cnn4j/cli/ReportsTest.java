package org.cnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import javax.imageio.ImageIO;

import org.cnn4j.data.Dataset;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Sequential;
import org.cnn4j.optim.Sgd;
import org.cnn4j.testing.Backends;
import org.cnn4j.train.EpochMetrics;
import org.cnn4j.train.Trainer;
import org.junit.jupiter.api.Test;
import org.knowm.xchart.XYChart;
import org.junit.jupiter.api.io.TempDir;

class ReportsTest {
    @TempDir
    Path dir;

    /** Two epochs of a small network on generated shapes, reported by {@code reports}. */
    private static List<EpochMetrics> train(Reports reports) throws IOException {
        Dataset train = SyntheticShapes.generate(320, 12, 4, 1), test = SyntheticShapes.generate(100, 12, 4, 2);
        try (Graph model = Sequential.builder().input(1, 12, 12)
                .add(new Conv2d(1, 6, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Flatten()).add(new Dense(6 * 5 * 5, 4))
                .loss(new SoftmaxCrossEntropy()).seed(1).build(Backends.CPU)) {
            return new Trainer(model, new Sgd(0.05), Trainer.Options.of(2, 64)).listener(reports).fit(train, test);
        }
    }

    @Test
    void reportsWriteTheCsvAndCharts() throws IOException {
        Reports reports = new Reports(dir);
        List<EpochMetrics> history = train(reports);
        assertEquals(Optional.empty(), reports.chartsUnavailable());
        assertEquals("metrics.csv, loss.png, accuracy.png, confusion.png", reports.written());
        List<String> csv = Files.readAllLines(dir.resolve(Reports.CSV));
        assertEquals(EpochMetrics.CSV_HEADER, csv.get(0));
        assertEquals(3, csv.size());
        assertEquals(history.get(1).csv(), csv.get(2));
        String[] cells = csv.get(1).split(",");
        assertEquals(9, cells.length);
        assertEquals(history.get(0).testAccuracy(), Double.parseDouble(cells[5]));
        for (String png : List.of(Reports.LOSS, Reports.ACCURACY, Reports.CONFUSION)) {
            BufferedImage image = ImageIO.read(dir.resolve(png).toFile());
            assertNotNull(image, png + " is a readable PNG");
            assertTrue(image.getWidth() > 300 && image.getHeight() > 300, png);
        }
    }

    /** A chart whose drawing fails as Java's does on a machine without fonts. */
    private static XYChart fontless() {
        return new XYChart(200, 100) {
            @Override
            public void paint(Graphics2D g, int width, int height) {
                throw new RuntimeException("Fontconfig head is null, check your fonts or fonts configuration");
            }
        };
    }

    @Test
    void aChartJavaCannotDrawIsRefusedByNameAndLeavesNoFile() {
        Path file = dir.resolve("loss.png");
        Reports.ChartUnavailable e = assertThrows(Reports.ChartUnavailable.class, () -> Reports.png(file, fontless()));
        assertTrue(e.getMessage().startsWith("cannot draw loss.png (java.lang.RuntimeException: Fontconfig head is null"), e.getMessage());
        assertTrue(e.getMessage().contains("fonts-dejavu-core fontconfig"), e.getMessage());
        assertFalse(Files.exists(file));
        assertThrows(OutOfMemoryError.class, () -> Reports.png(file, new XYChart(200, 100) {
            @Override
            public void paint(Graphics2D g, int width, int height) {
                throw new OutOfMemoryError("Java heap space");
            }
        }), "the JVM's own failures are not charts' to hide");
    }

    @Test
    void trainingGoesOnWithoutChartsWhereJavaCannotDrawThem() throws IOException {
        List<Path> tried = new ArrayList<>();
        Reports reports = new Reports(dir, (file, chart) -> {
            tried.add(file.getFileName());
            Reports.png(file, fontless());
        });
        List<EpochMetrics> history = train(reports);
        assertEquals(2, history.size(), "both epochs ran");
        List<String> csv = Files.readAllLines(dir.resolve(Reports.CSV));
        assertEquals(List.of(EpochMetrics.CSV_HEADER, history.get(0).csv(), history.get(1).csv()), csv, "the CSV after every epoch");
        assertEquals(List.of(Path.of(Reports.LOSS)), tried, "the first failure stops the charts for the rest of the run");
        String why = reports.chartsUnavailable().orElseThrow();
        assertTrue(why.startsWith("cannot draw loss.png") && why.contains("Fontconfig head is null"), why);
        assertEquals("metrics.csv (no charts: " + why + ")", reports.written());
        for (String png : List.of(Reports.LOSS, Reports.ACCURACY, Reports.CONFUSION)) assertFalse(Files.exists(dir.resolve(png)), png);
    }
}
