package org.cnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.cnn4j.cli.Cli.Result;
import org.cnn4j.testing.Mpirun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mpirun -np 2 cnn4j train --distributed}: one run's output, written by rank 0 alone. */
class DistributedCommandLineTest {
    @TempDir
    Path dir;

    @Test
    void twoProcessesTrainOneModelAndRankZeroWritesIt() throws IOException, InterruptedException {
        Path mpirun = Mpirun.find();
        assumeTrue(mpirun != null, "no mpirun on PATH (apt-get install openmpi-bin)");
        Path run = dir.resolve("run");
        String out = Mpirun.java(mpirun, 2, Cnn4j.class.getName(), 180, "train", "--distributed", "--data", "synthetic", "--limit", "640",
                "--epochs", "1", "--batch", "32", "--device", "cpu", "--out", run.toString());
        assertEquals(1, out.lines().filter(l -> l.contains("in each of 2 processes")).count(), "rank 0 alone prints: " + out);
        assertEquals(1, out.lines().filter(l -> l.startsWith("wrote ")).count(), out);
        for (String f : List.of("model.safetensors", "checkpoint.safetensors", Reports.CSV)) assertTrue(Files.exists(run.resolve(f)), f);
        assertEquals(2, Files.readAllLines(run.resolve(Reports.CSV)).size(), "one epoch in the metrics");

        Mpirun.Outcome nccl = Mpirun.run(mpirun, 2, Cnn4j.class.getName(), 180, "train", "--distributed", "--collectives", "nccl", "--data",
                "synthetic", "--limit", "64", "--epochs", "1", "--device", "cpu", "--out", dir.resolve("nccl").toString());
        assertTrue(nccl.code() != 0 && nccl.output().contains("--collectives nccl needs the GPU backend, not cpu"), nccl.toString());
    }

    /**
     * Under Slurm: {@code srun --mpi=pmix -n 2 cnn4j train --distributed} (Open MPI started through
     * Slurm's PMIx, ranks and local ranks from Slurm) trains one model that rank 0 alone reports and
     * writes. Runs where a Slurm cluster answers (CI starts one with scripts/slurm-local).
     */
    @Test
    void srunStartsTheJobAsMpirunDoes() throws IOException, InterruptedException {
        Path srun = Mpirun.findSrun();
        assumeTrue(srun != null, "no Slurm cluster answers here (scripts/slurm-local starts one)");
        Path run = dir.resolve("srun");
        String out = Mpirun.java(srun, 2, Cnn4j.class.getName(), 180, "train", "--distributed", "--data", "synthetic", "--limit", "320",
                "--epochs", "1", "--batch", "16", "--device", "cpu", "--threads", "1", "--out", run.toString());
        assertEquals(1, out.lines().filter(l -> l.contains("in each of 2 processes")).count(), "rank 0 alone prints: " + out);
        assertEquals(1, out.lines().filter(l -> l.startsWith("wrote ")).count(), out);
        for (String f : List.of("model.safetensors", "checkpoint.safetensors", Reports.CSV)) assertTrue(Files.exists(run.resolve(f)), f);
    }

    /**
     * A distributed run stopped after its first epoch and resumed from rank 0's checkpoint (with
     * --sync-batchnorm and --collectives auto passed, as a user restarting the job would) ends
     * with the model of a run that was never stopped: the replicas reload the same weights,
     * optimizer state and step count, and each epoch's shards come from the seed and the epoch.
     */
    @Test
    void aResumedDistributedRunEndsAsAnUninterruptedOne() throws IOException, InterruptedException {
        Path mpirun = Mpirun.find();
        assumeTrue(mpirun != null, "no mpirun on PATH (apt-get install openmpi-bin)");
        List<String> common = List.of("--distributed", "--data", "synthetic", "--limit", "320", "--batch", "16", "--device", "cpu", "--threads", "1");
        Path whole = dir.resolve("whole"), stopped = dir.resolve("stopped");
        Mpirun.java(mpirun, 2, Cnn4j.class.getName(), 180, concat(List.of("train", "--epochs", "2", "--out", whole.toString()), common));
        Mpirun.java(mpirun, 2, Cnn4j.class.getName(), 180, concat(List.of("train", "--epochs", "1", "--out", stopped.toString()), common));
        String out = Mpirun.java(mpirun, 2, Cnn4j.class.getName(), 180, concat(List.of("train", "--resume",
                stopped.resolve("checkpoint.safetensors").toString(), "--epochs", "2", "--sync-batchnorm", "--collectives", "auto"), common));
        assertTrue(out.contains("resuming after epoch 1"), out);
        assertEquals(3, Files.readAllLines(stopped.resolve(Reports.CSV)).size(), "both epochs in the resumed run's metrics");
        try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1);
             org.cnn4j.model.Model a = org.cnn4j.io.ModelFile.load(whole.resolve("model.safetensors"), cpu).model();
             org.cnn4j.model.Model b = org.cnn4j.io.ModelFile.load(stopped.resolve("model.safetensors"), cpu).model()) {
            for (int i = 0; i < a.parameters().size(); i++) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(a.parameters().get(i).value().toFloatArray(), b.parameters().get(i).value().toFloatArray(),
                        a.parameters().get(i).name());
            }
        }
    }

    private static String[] concat(List<String> a, List<String> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toArray(String[]::new);
    }

    @Test
    void theDistributedOptionsNeedDistributedAndKnownValues() {
        Result r = Cli.run("train", "--sync-batchnorm", "--data", "synthetic", "--out", dir.resolve("x").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--sync-batchnorm needs --distributed"), r.err());
        r = Cli.run("train", "--distributed", "--collectives", "gloo", "--data", "synthetic", "--out", dir.resolve("x").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--collectives must be auto, nccl or mpi, got 'gloo'"), r.err());
    }

    @Test
    void distributedWithoutALauncherIsRefused() {
        Result r = Cli.run("train", "--distributed", "--data", "synthetic", "--out", dir.resolve("x").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--distributed needs the processes of an MPI launcher"), r.err());
    }
}
