package org.cnn4j.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * A fixed pool of worker threads, sized once, and a parallel loop over index ranges. Which thread
 * runs which range never changes a result: every range writes its own outputs, and reductions are
 * made over fixed chunks and summed in chunk order by the caller.
 */
final class Parallel implements AutoCloseable {

    /** Work on the range [lo, hi). */
    @FunctionalInterface
    interface RangeBody {
        void run(int lo, int hi);
    }

    private static final AtomicInteger POOL_IDS = new AtomicInteger();

    private final ForkJoinPool pool;
    private final int threads;

    Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        int id = POOL_IDS.incrementAndGet();
        AtomicInteger workers = new AtomicInteger();
        this.pool = threads == 1 ? null : new ForkJoinPool(threads, p -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("cnn4j-cpu-" + id + "-" + workers.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    int threads() {
        return threads;
    }

    /**
     * Runs body over [0, count) split into pieces of at least {@code grain} indices. Runs inline
     * when there is one thread or too little work to share.
     */
    void forRange(int count, int grain, RangeBody body) {
        if (count <= 0) return;
        int g = Math.max(1, grain);
        if (pool == null || count <= g) {
            body.run(0, count);
            return;
        }
        pool.invoke(new RangeTask(0, count, g, body));
    }

    /** Runs body(i) for every i in [0, count), one index per task. */
    void forEach(int count, IntConsumer body) {
        forRange(count, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) body.accept(i);
        });
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdownNow();
    }

    private static final class RangeTask extends RecursiveAction {
        private final int lo, hi, grain;
        private final RangeBody body;

        RangeTask(int lo, int hi, int grain, RangeBody body) {
            this.lo = lo;
            this.hi = hi;
            this.grain = grain;
            this.body = body;
        }

        @Override
        protected void compute() {
            if (hi - lo <= grain) {
                body.run(lo, hi);
                return;
            }
            int mid = (lo + hi) >>> 1;
            invokeAll(new RangeTask(lo, mid, grain, body), new RangeTask(mid, hi, grain, body));
        }
    }
}
