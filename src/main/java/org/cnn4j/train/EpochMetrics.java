package org.cnn4j.train;

import java.util.LinkedHashMap;
import java.util.Map;

import org.cnn4j.io.Settings;

/**
 * One epoch's figures. Epochs count from 1. The test figures are NaN when no test set was given;
 * {@code seconds} and {@code imagesPerSecond} cover the training steps only.
 */
public record EpochMetrics(int epoch, double learningRate, double trainLoss, double trainAccuracy, double testLoss,
                           double testAccuracy, double seconds, double imagesPerSecond) {
    public static final String CSV_HEADER = "epoch,learning_rate,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second";

    public String csv() {
        return epoch + "," + learningRate + "," + trainLoss + "," + trainAccuracy + "," + testLoss + "," + testAccuracy + ","
                + seconds + "," + imagesPerSecond;
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
        return c;
    }

    static EpochMetrics fromConfig(Settings s) {
        return new EpochMetrics(s.integer("epoch"), s.number("learningRate"), s.number("trainLoss"), s.number("trainAccuracy"),
                s.numberOrNaN("testLoss"), s.numberOrNaN("testAccuracy"), s.number("seconds"), s.numberOrNaN("imagesPerSecond"));
    }
}
