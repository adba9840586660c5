package org.cnn4j.cli;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.cnn4j.data.ImageFolder;
import org.cnn4j.train.EpochMetrics;
import org.cnn4j.train.Evaluation;
import org.cnn4j.train.Trainer;
import org.cnn4j.train.TrainingListener;

/**
 * Shows training as it goes: on a terminal, a progress bar per epoch (steps, loss, images/s, ETA)
 * on standard error; otherwise a plain line there at the first step and every tenth of an epoch.
 * Each epoch ends with one result line on standard output.
 */
final class Progress implements TrainingListener {
    private final boolean terminal;
    private final PrintStream out, err;
    private ProgressBar bar;
    private int epochs, nextLine;
    private long epochStart;

    Progress(boolean terminal, PrintStream out, PrintStream err) {
        this.terminal = terminal;
        this.out = out;
        this.err = err;
    }

    /** A bar when standard output and error are a terminal, plain lines otherwise. */
    static Progress forConsole() {
        boolean terminal = System.console() != null && System.console().isTerminal();
        return new Progress(terminal, System.out, System.err);
    }

    /**
     * Shows an image folder's first pass (decoding, resizing) the same way: a bar on a terminal,
     * else a line at the start, every tenth and at the end, on standard error.
     */
    ImageFolder.Listener reading() {
        return new ImageFolder.Listener() {
            private final AtomicLong done = new AtomicLong();
            private volatile ProgressBar images;
            private volatile int total;
            private long start;

            @Override
            public void started(String name, int count) {
                done.set(0);
                total = count;
                start = System.nanoTime();
                if (terminal) {
                    images = new ProgressBarBuilder().setTaskName("reading " + name).setInitialMax(count).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                            .setUnit(" images", 1).setUpdateIntervalMillis(200).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(err)).build();
                } else {
                    err.printf(Locale.ROOT, "reading %,d images of %s%n", count, name);
                }
            }

            @Override
            public void imageRead() {
                long n = done.incrementAndGet();
                if (images != null) {
                    images.step();
                } else if (n * 10 / total != (n - 1) * 10 / total && n < total) {
                    err.printf(Locale.ROOT, "read %,d/%,d images%n", n, total);
                }
            }

            @Override
            public void finished(String name) {
                if (images != null) images.close();
                images = null;
                double seconds = (System.nanoTime() - start) * 1e-9;
                err.printf(Locale.ROOT, "read %,d images of %s in %.1f s (%,.0f images/s)%n", total, name, seconds, total / Math.max(seconds, 1e-9));
            }
        };
    }

    @Override
    public void epochStarted(int epoch, int epochs, int batches) {
        this.epochs = epochs;
        this.nextLine = 0;
        this.epochStart = System.nanoTime();
        if (terminal) {
            bar = new ProgressBarBuilder().setTaskName(String.format(Locale.ROOT, "epoch %d/%d", epoch, epochs)).setInitialMax(batches)
                    .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUnit(" steps", 1).setUpdateIntervalMillis(200)
                    .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(err)).build();
        }
    }

    @Override
    public void stepDone(Step s) {
        String figures = String.format(Locale.ROOT, "loss %.4f, %,.0f img/s", s.meanLoss(), s.imagesPerSecond());
        if (terminal) {
            bar.stepTo(s.batch() + 1);
            bar.setExtraMessage(" " + figures);
            return;
        }
        int done = s.batch() + 1;
        if (done * 10L >= (long) nextLine * s.batches() || done == s.batches()) {
            double elapsed = (System.nanoTime() - epochStart) * 1e-9, eta = elapsed / done * (s.batches() - done);
            err.printf(Locale.ROOT, "epoch %d/%d  step %d/%d  %s  ETA %s%n", s.epoch(), epochs, done, s.batches(), figures, duration(eta));
            while (done * 10L >= (long) nextLine * s.batches()) nextLine++;
        }
    }

    @Override
    public void epochDone(EpochMetrics m, Evaluation test, Trainer trainer) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        out.printf(Locale.ROOT, "epoch %d/%d  train loss %.4f  accuracy %.2f%%  |  test loss %.4f  accuracy %.2f%%  |  %.1f s, %,.0f images/s, lr %.4g%s%n",
                m.epoch(), epochs, m.trainLoss(), 100 * m.trainAccuracy(), m.testLoss(), 100 * m.testAccuracy(), m.seconds(),
                m.imagesPerSecond(), m.learningRate(), Double.isNaN(m.loaderWaitSeconds()) ? ""
                        : String.format(Locale.ROOT, ", waited %.2f s for data", m.loaderWaitSeconds()));
    }

    static String duration(double seconds) {
        Duration d = Duration.ofMillis((long) (seconds * 1000));
        return d.toHours() > 0 ? String.format(Locale.ROOT, "%dh%02dm", d.toHours(), d.toMinutesPart())
                : String.format(Locale.ROOT, "%dm%02ds", d.toMinutes(), d.toSecondsPart());
    }
}
