package org.cnn4j.distributed;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * A job of several "processes" that are threads of this JVM, for tests: {@link #run} starts one
 * thread per rank and gives each a {@link Communicator} whose collectives meet the others' at a
 * barrier (sums in rank order, so every rank gets the same bits). A rank that fails or waits more
 * than a minute breaks the barrier, and the others' collectives throw rather than hang.
 */
public final class ThreadJob {
    /** How long a rank waits for the others in a collective. */
    public static final java.time.Duration DEADLINE = java.time.Duration.ofMinutes(1);
    private final int size;
    private final CyclicBarrier barrier;
    private final Object[] slots;

    private ThreadJob(int size) {
        this.size = size;
        this.barrier = new CyclicBarrier(size);
        this.slots = new Object[size];
    }

    /** Runs {@code work} on {@code size} threads, rank by rank, and returns their results in rank order (rethrowing the first failure). */
    public static <T> List<T> run(int size, Function<Communicator, T> work) throws Exception {
        ThreadJob job = new ThreadJob(size);
        ExecutorService threads = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                Communicator c = job.rank(r);
                futures.add(threads.submit((Callable<T>) () -> {
                    try {
                        return work.apply(c);
                    } catch (RuntimeException | Error e) {
                        job.barrier.reset(); // the others stop waiting for this rank
                        throw e;
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) results.add(f.get(10, TimeUnit.MINUTES));
            return results;
        } finally {
            threads.shutdownNow();
        }
    }

    private void meet() {
        try {
            barrier.await(DEADLINE.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
            throw new IllegalStateException("another rank of the thread job failed or is late: " + e, e);
        }
    }

    private Communicator rank(int rank) {
        return new Communicator() {
            @Override
            public int rank() {
                return rank;
            }

            @Override
            public int size() {
                return size;
            }

            @Override
            public int localRank() {
                return rank;
            }

            @Override
            public void allReduceSum(float[] values) {
                slots[rank] = values.clone();
                meet();
                float[] sum = new float[values.length];
                for (Object s : slots) for (int i = 0; i < sum.length; i++) sum[i] += ((float[]) s)[i];
                meet();
                System.arraycopy(sum, 0, values, 0, sum.length);
            }

            @Override
            public void allReduceSum(double[] values) {
                slots[rank] = values.clone();
                meet();
                double[] sum = new double[values.length];
                for (Object s : slots) for (int i = 0; i < sum.length; i++) sum[i] += ((double[]) s)[i];
                meet();
                System.arraycopy(sum, 0, values, 0, sum.length);
            }

            @Override
            public void broadcast(byte[] data, int root) {
                if (rank == root) slots[root] = data.clone();
                meet();
                byte[] sent = (byte[]) slots[root];
                meet();
                System.arraycopy(sent, 0, data, 0, data.length);
            }

            @Override
            public void barrier() {
                meet();
            }

            /** A collective gives up after a minute (see {@link #meet}). */
            @Override
            public java.util.Optional<java.time.Duration> deadline() {
                return java.util.Optional.of(DEADLINE);
            }

            @Override
            public void close() {
            }
        };
    }
}
