package org.cnn4j.distributed;

import java.util.List;

import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Tensor;

/**
 * The processes of one data-parallel job and the collectives between them: each process has a rank
 * from 0 to size − 1 (rank 0 writes the job's files) and a local rank among the processes of its
 * machine (which picks its GPU). Collectives are called by every process of the job in the same
 * order, as MPI requires. {@link #single()} is the job of one process; {@link Mpi} the processes
 * {@code mpirun} or {@code srun} started.
 */
public interface Communicator extends AutoCloseable {

    int rank();

    int size();

    /** This process's rank among the job's processes on its machine. */
    int localRank();

    /** values = their sum over all processes, element by element, in place on every process. */
    void allReduceSum(float[] values);

    /** {@link #allReduceSum(float[])} in double (totals: losses, counts). */
    void allReduceSum(double[] values);

    /** data = rank {@code root}'s data, on every process (all pass arrays of the same length). */
    void broadcast(byte[] data, int root);

    /** Returns when every process has called it. */
    void barrier();

    /**
     * The longest a process may wait for the others in a collective before the job is taken to
     * have failed (see {@link Mpi}); none here.
     */
    default java.util.Optional<java.time.Duration> deadline() {
        return java.util.Optional.empty();
    }

    /**
     * Each tensor (of the same shapes and types on every process, in the same order) becomes its
     * mean over the processes, element by element, in place. Here through the host: the tensors
     * are read, summed by {@link #allReduceSum(float[])} in one buffer (float64 tensors by
     * {@link #allReduceSum(double[])}), scaled by 1/size and written back. A communicator of device
     * tensors (NCCL's) keeps them on the device and returns before the work is done, ordered on
     * the device's stream.
     */
    default void allReduceMean(List<Tensor> tensors) {
        int size = size();
        if (size == 1 || tensors.isEmpty()) return;
        List<Tensor> singles = tensors.stream().filter(t -> t.dtype() == DType.FLOAT32).toList();
        List<Tensor> doubles = tensors.stream().filter(t -> t.dtype() == DType.FLOAT64).toList();
        if (singles.size() + doubles.size() != tensors.size()) throw new IllegalArgumentException("allReduceMean takes float tensors only");
        if (!singles.isEmpty()) {
            float[] buffer = new float[total(singles)];
            int at = 0;
            for (Tensor t : singles) {
                float[] values = t.toFloatArray();
                System.arraycopy(values, 0, buffer, at, values.length);
                at += values.length;
            }
            allReduceSum(buffer);
            float scale = 1f / size;
            at = 0;
            for (Tensor t : singles) {
                float[] values = new float[t.size()];
                for (int i = 0; i < values.length; i++) values[i] = buffer[at + i] * scale;
                t.backend().write(t, values);
                at += values.length;
            }
        }
        if (!doubles.isEmpty()) {
            double[] buffer = new double[total(doubles)];
            int at = 0;
            for (Tensor t : doubles) {
                double[] values = t.toDoubleArray();
                System.arraycopy(values, 0, buffer, at, values.length);
                at += values.length;
            }
            allReduceSum(buffer);
            double scale = 1.0 / size;
            at = 0;
            for (Tensor t : doubles) {
                double[] values = new double[t.size()];
                for (int i = 0; i < values.length; i++) values[i] = buffer[at + i] * scale;
                t.backend().write(t, values);
                at += values.length;
            }
        }
    }

    private static int total(List<Tensor> tensors) {
        long total = 0;
        for (Tensor t : tensors) total += t.size();
        if (total > Integer.MAX_VALUE - 8) throw new IllegalStateException(total + " values exceed one buffer");
        return (int) total;
    }

    /**
     * How many bytes of gradients data-parallel training gathers before it reduces them (see
     * {@link GradientAverager}): here all of them, after the backward pass, since a reduction
     * through the host makes the host wait; a communicator of device tensors starts reducing
     * while the backward pass goes on.
     */
    default long bucketBytes() {
        return Long.MAX_VALUE;
    }

    @Override
    void close();

    /** The job of this process alone: collectives return their arguments. */
    static Communicator single() {
        return new Communicator() {
            @Override
            public int rank() {
                return 0;
            }

            @Override
            public int size() {
                return 1;
            }

            @Override
            public int localRank() {
                return 0;
            }

            @Override
            public void allReduceSum(float[] values) {
            }

            @Override
            public void allReduceSum(double[] values) {
            }

            @Override
            public void broadcast(byte[] data, int root) {
                if (root != 0) throw new IllegalArgumentException("broadcast from rank " + root + " in a job of one process");
            }

            @Override
            public void barrier() {
            }

            @Override
            public void close() {
            }
        };
    }
}
