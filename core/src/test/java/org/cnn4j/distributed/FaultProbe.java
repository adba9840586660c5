package org.cnn4j.distributed;

import java.time.Duration;

/**
 * Run by {@link MpiTest} under {@code mpirun}, with collectives that time out after 3 s: after one
 * all-reduce, rank 1 dies ({@code die}: halts at once, as a crash) or hangs ({@code hang}: sleeps
 * for ten minutes), while rank 0 goes on to the next all-reduce.
 */
public final class FaultProbe {
    private FaultProbe() {
    }

    public static void main(String[] args) throws InterruptedException {
        try (Mpi mpi = Mpi.start(Duration.ofSeconds(3))) {
            mpi.allReduceSum(new float[] {1});
            if (mpi.rank() == 1) {
                if (args[0].equals("die")) Runtime.getRuntime().halt(9);
                Thread.sleep(Duration.ofMinutes(10));
            }
            mpi.allReduceSum(new float[] {2});
            System.out.println("rank " + mpi.rank() + " was not stopped");
        }
    }
}
