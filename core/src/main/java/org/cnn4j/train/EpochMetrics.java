package org.cnn4j.train;

import java.util.LinkedHashMap;
import java.util.Map;

import org.cnn4j.io.Settings;

/**
 * One epoch's figures. Epochs count from 1. The test figures are NaN when no test set was given;
 * {@code seconds} and {@code imagesPerSecond} cover the training steps only, and
 * {@code loaderWaitSeconds} is the part of {@code seconds} the training loop spent waiting for the
 * data loader's next batch (near 0 when the loader keeps ahead; NaN when not measured).
 */
public record EpochMetrics(int epoch, double learningRate, double trainLoss, double trainAccuracy, double testLoss,
                           double testAccuracy, double seconds, double imagesPerSecond, double loaderWaitSeconds) {
    public static final String CSV_HEADER = "epoch,learning_rate,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second,"
            + "loader_wait_seconds";

    /** Without a measured loader wait. */
    public EpochMetrics(int epoch, double learningRate, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy,
                        double seconds, double imagesPerSecond) {
        this(epoch, learningRate, trainLoss, trainAccuracy, testLoss, testAccuracy, seconds, imagesPerSecond, Double.NaN);
    }

    public String csv() {
        return epoch + "," + learningRate + "," + trainLoss + "," + trainAccuracy + "," + testLoss + "," + testAccuracy + ","
                + seconds + "," + imagesPerSecond + "," + loaderWaitSeconds;
    }

    Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("epoch", epoch);
        c.put("learningRate", learningRate);
        c.put("trainLoss", trainLoss);
        c.put("trainAccuracy", trainAccuracy);
        c.put("testLoss", testLoss);
        c.put("testAccuracy", testAccuracy);
        c.put("seconds", seconds);
        c.put("imagesPerSecond", imagesPerSecond);
        if (!Double.isNaN(loaderWaitSeconds)) c.put("loaderWaitSeconds", loaderWaitSeconds);
        return c;
    }

    static EpochMetrics fromConfig(Settings s) {
        return new EpochMetrics(s.integer("epoch"), s.number("learningRate"), s.number("trainLoss"), s.number("trainAccuracy"),
                s.numberOrNaN("testLoss"), s.numberOrNaN("testAccuracy"), s.number("seconds"), s.numberOrNaN("imagesPerSecond"),
                s.numberOrNaN("loaderWaitSeconds"));
    }
}
