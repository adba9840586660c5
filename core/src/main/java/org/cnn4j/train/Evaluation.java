package org.cnn4j.train;

/** A model's mean loss, accuracy and confusion matrix on a dataset. */
public record Evaluation(double loss, ConfusionMatrix confusion) {
    public double accuracy() {
        return confusion.accuracy();
    }
}
