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

    /** The most heap in use right after a garbage collection since {@link #watchHeap()}: the live data's peak. */
    private static final java.util.concurrent.atomic.AtomicLong LIVE_PEAK = new java.util.concurrent.atomic.AtomicLong();
    private static final java.util.concurrent.atomic.AtomicBoolean WATCHING = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Starts noting the heap in use after each garbage collection (the live data; what is in use
     * between collections is garbage too, so its peak says more about the collector than the run).
     */
    static void watchHeap() {
        if (WATCHING.getAndSet(true)) return;
        for (java.lang.management.GarbageCollectorMXBean gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            if (!(gc instanceof javax.management.NotificationEmitter emitter)) continue;
            emitter.addNotificationListener((notification, handback) -> {
                if (!com.sun.management.GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) return;
                var info = com.sun.management.GarbageCollectionNotificationInfo.from((javax.management.openmbean.CompositeData) notification.getUserData());
                long live = 0;
                for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
                    var after = info.getGcInfo().getMemoryUsageAfterGc().get(pool.getName());
                    if (pool.getType() == java.lang.management.MemoryType.HEAP && after != null) live += after.getUsed();
                }
                LIVE_PEAK.accumulateAndGet(live, Math::max);
            }, null, null);
        }
    }

    /**
     * The heap's peak after collections since {@link #watchHeap()} and its limit: "peak Java heap
     * 412 MiB (live, after collections) of 8,192". Memory-mapped image caches are outside it: the
     * system pages them.
     */
    static String peakHeap() {
        long now = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        long peak = LIVE_PEAK.get() > 0 ? LIVE_PEAK.get() : now; // no collection yet: what is in use now bounds it
        return String.format(Locale.ROOT, "peak Java heap %,d MiB (live, after collections) of %,d", peak >> 20, Runtime.getRuntime().maxMemory() >> 20);
    }
}
