package org.cnn4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.testing.Mpirun;
import org.junit.jupiter.api.Test;

/**
 * The MPI binding against Open MPI itself (CI installs openmpi-bin): two processes started by
 * {@code mpirun} all-reduce, broadcast and meet at a barrier (see {@link MpiProbe}).
 */
class MpiTest {

    @Test
    void twoProcessesReduceBroadcastAndMeet() throws IOException, InterruptedException {
        Path mpirun = Mpirun.find();
        assumeTrue(mpirun != null, "no mpirun on PATH (apt-get install openmpi-bin)");
        String out = Mpirun.java(mpirun, 2, MpiProbe.class.getName(), 180);
        for (int r = 0; r < 2; r++) {
            assertTrue(out.contains("rank " + r + " of 2 local " + r + " small [3.0, 30.0, -0.5] large right doubles right message 'from the last rank'"), out);
        }
    }

    /**
     * The same under MPICH (its mpiexec and libmpich.so.12, whose handles are ints): the library is
     * chosen from the launcher's environment and its ABI from its version text. And under MPICH: the
     * data-parallel comparison of fmnist-cnn, 20 steps, and a process that dies or hangs.
     */
    @Test
    void mpichsIntegerHandlesWorkToo(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException, InterruptedException {
        Path mpiexec = Mpirun.findMpich();
        assumeTrue(mpiexec != null, "no MPICH (apt-get install mpich)");
        String out = Mpirun.java(mpiexec, 2, MpiProbe.class.getName(), 180);
        for (int r = 0; r < 2; r++) {
            assertTrue(out.contains("rank " + r + " of 2 local " + r + " small [3.0, 30.0, -0.5] large right doubles right message 'from the last rank'"), out);
        }
        compareEveryStep(mpiexec, dir, DataParallelProbe.Kind.FMNIST_CNN, "fmnist-cnn");
        Mpirun.Outcome died = Mpirun.run(mpiexec, 2, FaultProbe.class.getName(), 120, "die");
        assertTrue(died.code() != 0 && died.seconds() < 60 && !died.output().contains("was not stopped"), died.toString());
        Mpirun.Outcome hung = Mpirun.run(mpiexec, 2, FaultProbe.class.getName(), 120, "hang");
        assertTrue(hung.code() != 0 && hung.seconds() < 60, hung.toString());
        assertTrue(hung.output().contains("rank 0 of 2: MPI_Allreduce has waited 3 s for the other processes"), hung.output());
    }

    @Test
    void theLibraryFollowsTheLauncherAndItsVersionTextGivesTheAbi() {
        assertEquals("libmpi.so.40", Mpi.candidates(Map.of("OMPI_COMM_WORLD_SIZE", "2")).getFirst());
        assertEquals("libmpich.so.12", Mpi.candidates(Map.of("PMI_RANK", "0", "PMI_SIZE", "2")).getFirst(), "MPICH's mpiexec (Hydra)");
        assertEquals("libmpi.so.40", Mpi.candidates(Map.of("PMI_RANK", "0", "PMIX_RANK", "0")).getFirst(), "srun --mpi=pmix");
        assertEquals(List.of("/opt/x/libmpi.so"), Mpi.candidates(Map.of("CNN4J_MPI", "/opt/x/libmpi.so")));
        assertTrue(Mpi.mpichAbi("MPICH Version:      4.0.2\nMPICH Release date: Thu Apr  7 12:34:45 CDT 2022"));
        assertTrue(Mpi.mpichAbi("Intel(R) MPI Library 2021.10 for Linux* OS") && Mpi.mpichAbi("MVAPICH2 Version 2.3.7"));
        assertTrue(!Mpi.mpichAbi("Open MPI v4.1.4, package: Debian OpenMPI") && !Mpi.mpichAbi("Microsoft MPI"));
    }

    /**
     * fmnist-cnn trained by two processes on 32 samples each of every batch of 64, gradients
     * averaged in buckets (see {@link DataParallelProbe}): after every one of 20 steps both
     * replicas hold the same parameters, bit for bit, and those of one process trained on the
     * batches of 64, to 1e-5 of their scale (the sums run in another order; see {@link #TOLERANCE}).
     */
    @Test
    void twoReplicasTrainAsOneProcessOnTheirJointBatch(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException, InterruptedException {
        compareEveryStep(dir, DataParallelProbe.Kind.FMNIST_CNN, "fmnist-cnn");
    }

    /**
     * resnet20 (nine residual blocks, batch normalisation everywhere), its batch normalisations
     * synchronised over the two processes, 20 steps, in float64 (see {@link DataParallelProbe} for
     * why): after every step the replicas agree bit for bit and with one process on the batches of
     * 64 to 1e-5 of the parameters' scale (they agree to about 1e-11).
     */
    @Test
    void twoReplicasOfAResNetWithSynchronisedBatchNormTrainAsOne(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException, InterruptedException {
        compareEveryStep(dir, DataParallelProbe.Kind.RESNET20, "resnet20");
    }

    private static void compareEveryStep(Path dir, DataParallelProbe.Kind kind, String name) throws IOException, InterruptedException {
        Path mpirun = Mpirun.find();
        assumeTrue(mpirun != null, "no mpirun on PATH (apt-get install openmpi-bin)");
        compareEveryStep(mpirun, dir, kind, name);
    }

    private static void compareEveryStep(Path mpirun, Path dir, DataParallelProbe.Kind kind, String name) throws IOException, InterruptedException {
        String out = Mpirun.java(mpirun, 2, DataParallelProbe.class.getName(), 300, dir.resolve("parameters").toString(), name);
        float[] rank0 = floats(dir.resolve("parameters.0")), rank1 = floats(dir.resolve("parameters.1"));
        assertTrue(java.util.Arrays.equals(rank0, rank1), "the replicas agree bit for bit: " + out);
        List<float[]> single = DataParallelProbe.train(Communicator.single(), kind, 64, 0, 64);
        int n = single.get(0).length;
        assertEquals(DataParallelProbe.STEPS * n, rank0.length, "a block of parameters for every step");
        for (int step = 0; step < DataParallelProbe.STEPS; step++) {
            assertNear(name + " after step " + (step + 1), single.get(step), java.util.Arrays.copyOfRange(rank0, step * n, (step + 1) * n));
        }
        double moved = 0;
        float[] initial = DataParallelProbe.initial(kind), last = single.getLast();
        for (int i = 0; i < n; i++) moved = Math.max(moved, Math.abs(last[i] - initial[i]));
        assertTrue(moved > 1e-2, "training moved the parameters: " + moved);
    }

    /**
     * The same through the Trainer: two processes fit one epoch of 1,280 shuffled samples in
     * batches of 32 each (each its share of the epoch, as PyTorch's DistributedSampler), one process
     * fits it in batches of 64: the same parameters (to {@link #TOLERANCE} of their scale) and epoch metrics (to
     * 1e-5), and rank 0's checkpoint.
     */
    @Test
    void theTrainersReplicasFitAsOneProcess(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException, InterruptedException {
        Path mpirun = Mpirun.find();
        assumeTrue(mpirun != null, "no mpirun on PATH (apt-get install openmpi-bin)");
        Path parallel = Files.createDirectories(dir.resolve("parallel"));
        String out = Mpirun.java(mpirun, 2, DataParallelProbe.class.getName(), 180, parallel.resolve("parameters").toString(), "trainer");
        float[] rank0 = floats(parallel.resolve("parameters.0")), rank1 = floats(parallel.resolve("parameters.1"));
        assertTrue(java.util.Arrays.equals(rank0, rank1), "the replicas agree bit for bit: " + out);
        assertTrue(Files.exists(parallel.resolve("checkpoint.safetensors")), "rank 0 wrote the checkpoint");
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        java.io.PrintStream stdout = System.out;
        float[] single;
        System.setOut(new java.io.PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            single = DataParallelProbe.fit(Communicator.single(), dir.resolve("single.safetensors"), 64);
        } finally {
            System.setOut(stdout);
        }
        assertNear(single, rank0);
        String[] one = printed.toString(StandardCharsets.UTF_8).strip().split(" "), two = out.lines().filter(l -> l.startsWith("rank 0 ")).findFirst()
                .orElseThrow().split(" ");
        for (int i : new int[] {4, 6, 9}) assertEquals(Double.parseDouble(one[i]), Double.parseDouble(two[i]), 1e-5, "metric " + one[i - 1] + ": " + out);
    }

    /**
     * How close two runs that sum the same products in another order come, as a fraction of the
     * parameters' scale: 1e-5, or 1e-4 with the scalar kernels ({@code -Dcnn4j.vector=false}, or a
     * JVM that cannot compile the vector ones).
     * Float32 sums of n products taken one at a time round to about √n·2⁻²⁴ of the sum (n is some
     * 20,000 for a filter gradient: 1e-5), sums kept in vector lanes ten to a hundred times less.
     * Measured after 20 steps of fmnist-cnn: 1.7e-5 of the scale with the scalar kernels, 1.3e-6 at
     * 128 bits, 1.3e-7 at 256. A bucket summed instead of averaged is off by 1e-2 or more.
     */
    private static final double TOLERANCE = CpuBackend.vectorKernels() ? 1e-5 : 1e-4;

    /** Every value within {@link #TOLERANCE} of the largest magnitude of {@code expected}. */
    private static void assertNear(float[] expected, float[] actual) {
        assertNear("", expected, actual);
    }

    private static void assertNear(String what, float[] expected, float[] actual) {
        double scale = 0, worst = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= TOLERANCE * scale, what + " off by " + worst + " at a scale of " + scale);
    }

    private static float[] floats(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        float[] v = new float[bytes.length / 4];
        java.nio.ByteBuffer.wrap(bytes).asFloatBuffer().get(v);
        return v;
    }

    /**
     * A process that dies ends the job through mpirun, which names it; one that hangs keeps the
     * other in its all-reduce until the 3 s deadline, whose watchdog names the rank and the call and
     * stops it, and mpirun then ends the job: either way well within a minute, never a hang.
     */
    @Test
    void aProcessThatDiesOrHangsEndsTheJob() throws IOException, InterruptedException {
        Path mpirun = Mpirun.find();
        assumeTrue(mpirun != null, "no mpirun on PATH (apt-get install openmpi-bin)");
        Mpirun.Outcome died = Mpirun.run(mpirun, 2, FaultProbe.class.getName(), 120, "die");
        // mpirun names the process: "process rank 1" (killed by a signal) or its name [[job,step],1] (a non-zero exit)
        assertTrue(died.code() != 0 && died.seconds() < 60 && died.output().matches("(?s).*(process rank 1|\\[\\[\\d+,\\d+],1]).*"), died.toString());
        Mpirun.Outcome hung = Mpirun.run(mpirun, 2, FaultProbe.class.getName(), 120, "hang");
        assertTrue(hung.code() != 0 && hung.seconds() < 60, hung.toString());
        assertTrue(hung.output().contains("rank 0 of 2: MPI_Allreduce has waited 3 s for the other processes"), hung.output());
        assertTrue(!died.output().contains("was not stopped") && !hung.output().contains("was not stopped"), died + " " + hung);
    }

    /**
     * The trainer's job with rank 1 dying, or hanging, in the middle of the second epoch: rank 0
     * stops well within a minute (the hang through its 3 s deadline in the gradients' all-reduce,
     * naming the rank and the call), and the checkpoint of the first epoch stays whole: it
     * resumes after epoch 1.
     */
    @Test
    void aTrainingRunWhoseProcessDiesOrHangsMidEpochStopsAndKeepsItsCheckpoint(@org.junit.jupiter.api.io.TempDir Path dir)
            throws IOException, InterruptedException {
        Path mpirun = Mpirun.find();
        assumeTrue(mpirun != null, "no mpirun on PATH (apt-get install openmpi-bin)");
        for (String mode : List.of("train-die", "train-hang")) {
            Path checkpoint = dir.resolve(mode + ".safetensors");
            Mpirun.Outcome o = Mpirun.run(mpirun, 2, FaultProbe.class.getName(), 120, mode, checkpoint.toString());
            assertTrue(o.code() != 0 && o.seconds() < 60, mode + ": " + o);
            assertTrue(o.output().contains("rank 0 finished epoch 1") && !o.output().contains("finished epoch 2")
                    && !o.output().contains("was not stopped"), mode + ": " + o.output());
            if (mode.equals("train-hang")) {
                assertTrue(o.output().contains("rank 0 of 2: MPI_Allreduce has waited 3 s for the other processes"), o.output());
            }
            try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1)) {
                org.cnn4j.train.Trainer resumed = org.cnn4j.train.Trainer.resume(checkpoint, cpu);
                assertEquals(1, resumed.history().size(), mode + ": the checkpoint of epoch 1");
                resumed.model().close();
            }
        }
    }

    @Test
    void theLocalRankComesFromTheLauncher() {
        assertEquals(3, Mpi.localRank(Map.of("OMPI_COMM_WORLD_LOCAL_RANK", "3")));
        assertEquals(2, Mpi.localRank(Map.of("SLURM_LOCALID", "2")));
        assertEquals(1, Mpi.localRank(Map.of("MPI_LOCALRANKID", " 1 ")));
        assertEquals(0, Mpi.localRank(Map.of("SLURM_LOCALID", "x")), "not a number: none");
        assertEquals(0, Mpi.localRank(Map.of()));
    }

    /** srun's tasks are recognised as launched, and a step of several tasks that MPI sees one by one is refused by name. */
    @Test
    void srunsTasksAreLaunchedAndMustFormOneJob() {
        assertTrue(Mpi.launched(Map.of("SLURM_STEP_NUM_TASKS", "4", "SLURM_PROCID", "2")));
        assertTrue(Mpi.launched(Map.of("PMIX_RANK", "0")) && Mpi.launched(Map.of("OMPI_COMM_WORLD_SIZE", "2")));
        assertTrue(!Mpi.launched(Map.of("SLURM_STEP_NUM_TASKS", "1")) && !Mpi.launched(Map.of("SLURM_JOB_ID", "7")));
        String m = Mpi.launcherMismatch(Map.of("SLURM_STEP_NUM_TASKS", "4"), 1);
        assertTrue(m != null && m.startsWith("srun started 4 tasks but MPI sees a job of 1 process in each: launch with srun --mpi=pmix"), m);
        assertEquals(null, Mpi.launcherMismatch(Map.of("SLURM_STEP_NUM_TASKS", "4", "PMIX_RANK", "1"), 4), "srun --mpi=pmix: one job of 4");
        assertEquals(null, Mpi.launcherMismatch(Map.of("SLURM_STEP_NUM_TASKS", "4", "OMPI_COMM_WORLD_SIZE", "1"), 1), "mpirun -np 1 inside a step");
        assertEquals(null, Mpi.launcherMismatch(Map.of(), 1));
    }

    @Test
    void aJobOfOneProcessReturnsItsArguments() {
        try (Communicator one = Communicator.single()) {
            float[] v = {1, 2};
            one.allReduceSum(v);
            assertEquals(List.of(1f, 2f), List.of(v[0], v[1]));
            assertEquals(List.of(0, 1, 0), List.of(one.rank(), one.size(), one.localRank()));
        }
    }
}
