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
    }

    @Test
    void distributedWithoutALauncherIsRefused() {
        Result r = Cli.run("train", "--distributed", "--data", "synthetic", "--out", dir.resolve("x").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--distributed needs the processes of an MPI launcher"), r.err());
    }
}
