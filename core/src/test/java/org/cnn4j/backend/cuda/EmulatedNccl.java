package org.cnn4j.backend.cuda;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * NCCL between emulated GPUs in one JVM, each rank's on its own thread ({@link EmulatedGpu}):
 * ranks that joined the same id meet at a barrier in each operation, as NCCL's kernels wait for
 * their peers. Operations are issued to the rank's emulated stream, so a recorded step holds them
 * and its replays run them again. The mean is NCCL's for floats: each rank's values times
 * 1/ranks, summed in rank order.
 */
final class EmulatedNccl implements Collectives {
    private static final Map<ByteBuffer, Group> GROUPS = new ConcurrentHashMap<>();
    private static final AtomicLong IDS = new AtomicLong();

    private final EmulatedGpu device;
    private Group group;
    private int rank;

    /** The ranks of one id, and what each put on the table for the operation under way. */
    private static final class Group {
        final CyclicBarrier barrier;
        final float[][][] table;

        Group(int size) {
            barrier = new CyclicBarrier(size);
            table = new float[size][][];
        }

        void meet() {
            try {
                barrier.await(1, TimeUnit.MINUTES);
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                throw new IllegalStateException("emulated NCCL: a peer failed or is late: " + e, e);
            }
        }
    }

    EmulatedNccl(EmulatedGpu device) {
        this.device = device;
    }

    @Override
    public String library() {
        return "emulated NCCL";
    }

    @Override
    public long version() {
        return 22703;
    }

    @Override
    public byte[] uniqueId() {
        byte[] id = new byte[Nccl.UNIQUE_ID_BYTES];
        ByteBuffer.wrap(id).putLong(IDS.incrementAndGet()).putLong(System.nanoTime());
        return id;
    }

    @Override
    public void join(byte[] id, int size, int rank) {
        this.group = GROUPS.computeIfAbsent(ByteBuffer.wrap(id.clone()), k -> new Group(size));
        this.rank = rank;
        group.meet();
    }

    @Override
    public void allReduceMean(long[] addresses, long[] counts, long stream) {
        device.issue("ncclAllReduce", () -> {
            float[][] mine = new float[addresses.length][];
            for (int i = 0; i < mine.length; i++) mine[i] = device.floats(addresses[i], Math.toIntExact(counts[i]));
            group.table[rank] = mine;
            group.meet();
            float scale = 1f / group.table.length;
            for (int i = 0; i < mine.length; i++) {
                float[] mean = new float[mine[i].length];
                for (float[][] theirs : group.table) for (int j = 0; j < mean.length; j++) mean[j] += theirs[i][j] * scale;
                device.put(addresses[i], mean);
            }
            group.meet();
        });
    }

    @Override
    public void broadcast(long address, long count, int root, long stream) {
        device.issue("ncclBroadcast", () -> {
            if (rank == root) group.table[root] = new float[][] {device.floats(address, Math.toIntExact(count))};
            group.meet();
            float[] sent = group.table[root][0];
            group.meet();
            device.put(address, sent);
        });
    }

    @Override
    public void checkAsync() {
    }

    @Override
    public void abort() {
        group.barrier.reset();
    }

    @Override
    public void close() {
    }
}
