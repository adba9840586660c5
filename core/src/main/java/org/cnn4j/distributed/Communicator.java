package org.cnn4j.distributed;

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
