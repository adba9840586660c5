package org.cnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
import org.junit.jupiter.api.io.TempDir;

class ReportsTest {
    @TempDir
    Path dir;

    @Test
    void reportsWriteTheCsvAndCharts() throws IOException {
        Dataset train = SyntheticShapes.generate(320, 12, 4, 1), test = SyntheticShapes.generate(100, 12, 4, 2);
        List<EpochMetrics> history;
        try (Graph model = Sequential.builder().input(1, 12, 12)
                .add(new Conv2d(1, 6, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Flatten()).add(new Dense(6 * 5 * 5, 4))
                .loss(new SoftmaxCrossEntropy()).seed(1).build(Backends.CPU)) {
            history = new Trainer(model, new Sgd(0.05), Trainer.Options.of(2, 64)).listener(new Reports(dir)).fit(train, test);
        }
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
}
