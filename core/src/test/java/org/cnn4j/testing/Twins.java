package org.cnn4j.testing;

import org.cnn4j.distributed.Communicator;

/**
 * A pretend job of two processes, in one thread, whose other process always holds the same values:
 * every all-reduce doubles them (so a mean leaves them as they are), broadcasts and barriers return
 * at once. Tests subclass it to record or perturb the collectives.
 */
public class Twins implements Communicator {
    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int size() {
        return 2;
    }

    @Override
    public int localRank() {
        return 0;
    }

    @Override
    public void allReduceSum(float[] values) {
        for (int i = 0; i < values.length; i++) values[i] *= 2;
    }

    @Override
    public void allReduceSum(double[] values) {
        for (int i = 0; i < values.length; i++) values[i] *= 2;
    }

    @Override
    public void broadcast(byte[] data, int root) {
    }

    @Override
    public void barrier() {
    }

    @Override
    public void close() {
    }
}
