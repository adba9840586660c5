package org.cnn4j.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

import org.cnn4j.train.ConfusionMatrix;
import org.cnn4j.train.Evaluation;

/** Text tables of an evaluation for the terminal. */
final class Reporting {
    private Reporting() {
    }

    static void print(PrintStream out, String what, Evaluation e, List<String> classNames) {
        out.printf(Locale.ROOT, "%s: loss %.4f, accuracy %.2f%% (%d images)%n", what, e.loss(), 100 * e.accuracy(), e.confusion().total());
        ConfusionMatrix m = e.confusion();
        int width = Math.max(8, classNames.stream().mapToInt(String::length).max().orElse(8));
        out.printf(Locale.ROOT, "%-" + width + "s  %8s   confusion (rows: true class, columns: predicted)%n", "class", "accuracy");
        for (int t = 0; t < m.classes(); t++) {
            StringBuilder row = new StringBuilder();
            for (int p = 0; p < m.classes(); p++) row.append(String.format(Locale.ROOT, "%6d", m.count(t, p)));
            out.printf(Locale.ROOT, "%-" + width + "s  %7.2f%%  %s%n", classNames.get(t), 100 * m.classAccuracy(t), row);
        }
    }

    /**
     * The Java heap's peak use so far (the sum of its pools' peaks) and its limit: "peak Java heap
     * 412 MiB of 8,192". Memory-mapped image caches are outside it: the system pages them.
     */
    static String peakHeap() {
        long peak = 0;
        for (java.lang.management.MemoryPoolMXBean pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getPeakUsage() != null) peak += pool.getPeakUsage().getUsed();
        }
        return String.format(Locale.ROOT, "peak Java heap %,d MiB of %,d", peak >> 20, Runtime.getRuntime().maxMemory() >> 20);
    }
}
