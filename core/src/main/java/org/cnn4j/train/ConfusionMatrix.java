package org.cnn4j.train;

/** Counts of (true class, predicted class) pairs, with overall and per-class accuracy. */
public final class ConfusionMatrix {
    private final long[][] counts;

    public ConfusionMatrix(int classes) {
        this.counts = new long[classes][classes];
    }

    public void add(int[] truth, int[] predicted, int n) {
        for (int i = 0; i < n; i++) counts[truth[i]][predicted[i]]++;
    }

    public int classes() {
        return counts.length;
    }

    /** Samples of class {@code truth} predicted as {@code predicted}. */
    public long count(int truth, int predicted) {
        return counts[truth][predicted];
    }

    public long total() {
        long t = 0;
        for (long[] row : counts) for (long c : row) t += c;
        return t;
    }

    public double accuracy() {
        long correct = 0;
        for (int k = 0; k < counts.length; k++) correct += counts[k][k];
        return (double) correct / total();
    }

    /** Recall of one class: the fraction of its samples predicted correctly (NaN when it has none). */
    public double classAccuracy(int k) {
        long all = 0;
        for (long c : counts[k]) all += c;
        return (double) counts[k][k] / all;
    }
}
