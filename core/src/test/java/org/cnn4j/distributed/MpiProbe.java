package org.cnn4j.distributed;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Run by {@link MpiTest} under {@code mpirun}: each rank all-reduces values that depend on its rank
 * (a short array and one of a million elements, and doubles), receives a broadcast from the last rank, meets the
 * others at a barrier, and prints what it got, one line, for the test to check.
 */
public final class MpiProbe {
    private MpiProbe() {
    }

    public static void main(String[] args) {
        try (Mpi mpi = Mpi.start()) {
            int r = mpi.rank(), n = mpi.size();
            float[] small = {r + 1, 10f * (r + 1), -0.5f * r};
            mpi.allReduceSum(small);
            float[] large = new float[1_000_000];
            for (int i = 0; i < large.length; i++) large[i] = (i % 7) * (r + 1);
            mpi.allReduceSum(large);
            boolean largeRight = true;
            float ranks = n * (n + 1) / 2f;
            for (int i = 0; i < large.length; i++) largeRight &= large[i] == (i % 7) * ranks;
            double[] totals = {r + 0.25, -1e300};
            mpi.allReduceSum(totals);
            boolean doublesRight = totals[0] == n * (n - 1) / 2.0 + 0.25 * n && totals[1] == -1e300 * n;
            byte[] message = (r == n - 1 ? "from the last rank" : "??????????????????").getBytes(StandardCharsets.US_ASCII);
            mpi.broadcast(message, n - 1);
            mpi.barrier();
            System.out.println("rank " + r + " of " + n + " local " + mpi.localRank() + " small " + Arrays.toString(small) + " large "
                    + (largeRight ? "right" : "wrong") + " doubles " + (doublesRight ? "right" : "wrong") + " message '" + new String(message, StandardCharsets.US_ASCII) + "'");
        }
    }
}
