package org.cnn4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark table sets cnn4j against PyTorch's best run of the same model, mode, device kind
 * and math mode, within each round, and reports the median over rounds with the range.
 */
class BenchmarkReportTest {
    @TempDir
    Path dir;

    /** A GPU-only run on a machine without a usable GPU: nothing of cnn4j's to set against PyTorch, and no chart to draw. */
    @Test
    void aRunWithoutMeasurementsOfOursSaysSoAndWritesTheCsv() throws Exception {
        Path cnn4j = dir.resolve("cnn4j-1.csv");
        Files.writeString(cnn4j, "implementation,device,model,batch,mode,ms_per_step,images_per_second,peak_mib\n");
        BenchmarkReport.main(new String[] {dir.toString(), cnn4j.toString()});
        assertEquals(List.of("round,implementation,device,model,batch,mode,ms_per_step,images_per_second,peak_mib"),
                Files.readAllLines(dir.resolve("results.csv")));
        assertTrue(Files.notExists(dir.resolve("results.png")));
    }
    @Test
    void ratioIsOursOverPytorchsBestOnTheSameKindOfDeviceAndMathMode() {
        List<BenchmarkReport.Row> rows = List.of(
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "fmnist-cnn", 256, "train", 100, 2560),
                new BenchmarkReport.Row("cnn4j", "cuda(NVIDIA H100) TF32", "fmnist-cnn", 256, "train", 1, 256000),
                new BenchmarkReport.Row("cnn4j", "cuda(NVIDIA H100) FP32", "fmnist-cnn", 256, "train", 1, 200000),
                new BenchmarkReport.Row("pytorch-eager", "cpu", "fmnist-cnn", 256, "train", 200, 1280),
                new BenchmarkReport.Row("pytorch-eager", "NVIDIA H100 TF32", "fmnist-cnn", 256, "train", 2, 128000),
                new BenchmarkReport.Row("pytorch-graph", "NVIDIA H100 TF32", "fmnist-cnn", 256, "train", 0.5, 512000),
                new BenchmarkReport.Row("pytorch-graph", "NVIDIA H100 FP32", "fmnist-cnn", 256, "train", 0.5, 400000),
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "lenet5", 256, "infer", 10, 25600));
        String table = BenchmarkReport.table(rows);
        assertTrue(table.matches("(?s).*cpu\\s+fmnist-cnn\\s+256 train .*2560\\s+pytorch-eager\\s+1280\\s+2\\.00x\n.*"), table);
        assertTrue(table.matches("(?s).*gpu tf32\\s+fmnist-cnn\\s+256 train .*256000\\s+pytorch-graph\\s+512000\\s+0\\.50x\n.*"), table);
        assertTrue(table.matches("(?s).*gpu fp32\\s+fmnist-cnn\\s+256 train .*200000\\s+pytorch-graph\\s+400000\\s+0\\.50x\n.*"), table);
        assertTrue(table.matches("(?s).*cpu\\s+lenet5\\s+256 infer .*25600\\s+-\\s+-\\s+-.*"), table);
    }

    @Test
    void roundsArePairedAndTheMedianRatioReportedWithItsRange() {
        // Round 2 ran on a slower moment of the machine for both sides: its ratio is still 2.
        List<BenchmarkReport.Row> rows = List.of(
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "fmnist-cnn", 256, "train", 100, 3000, 1),
                new BenchmarkReport.Row("pytorch-eager", "cpu", "fmnist-cnn", 256, "train", 200, 1500, 1),
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "fmnist-cnn", 256, "train", 100, 2000, 2),
                new BenchmarkReport.Row("pytorch-eager", "cpu", "fmnist-cnn", 256, "train", 200, 1000, 2),
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "fmnist-cnn", 256, "train", 100, 2400, 3),
                new BenchmarkReport.Row("pytorch-eager", "cpu", "fmnist-cnn", 256, "train", 200, 1500, 3));
        String table = BenchmarkReport.table(rows);
        // ours: median of 3000, 2000, 2400; theirs: median of 1500, 1000, 1500; ratios 2.0, 2.0, 1.6
        assertTrue(table.matches("(?s).*cpu\\s+fmnist-cnn\\s+256 train .*2400\\s+pytorch-eager\\s+1500\\s+2\\.00x \\(1\\.60-2\\.00 over 3 rounds\\).*"),
                table);
    }

    @Test
    void peakMemoryIsSetAgainstPytorchEagerOnTheSameModelAndMathMode() {
        List<BenchmarkReport.Row> rows = List.of(
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "fmnist-cnn", 256, "train", 100, 2560, 1, Double.NaN),
                new BenchmarkReport.Row("cnn4j", "cuda(NVIDIA H100) TF32", "fmnist-cnn", 256, "train", 1, 256000, 1, 180),
                new BenchmarkReport.Row("cnn4j", "cuda(NVIDIA H100) TF32", "fmnist-cnn", 256, "infer", 1, 256000, 1, Double.NaN),
                new BenchmarkReport.Row("pytorch-eager", "NVIDIA H100 TF32", "fmnist-cnn", 256, "train", 2, 128000, 1, 240),
                new BenchmarkReport.Row("pytorch-graph", "NVIDIA H100 TF32", "fmnist-cnn", 256, "train", 0.5, 512000, 1, 300),
                new BenchmarkReport.Row("pytorch-eager", "NVIDIA H100 FP32", "fmnist-cnn", 256, "train", 2, 128000, 1, 999));
        String table = BenchmarkReport.memoryTable(rows);
        assertTrue(table.matches("(?s)peak device memory.*\ngpu tf32\\s+fmnist-cnn\\s+256\\s+cuda\\(NVIDIA H100\\) TF32\\s+180\\.0\\s+240\\.0\\s+0\\.75x\n"), table);
        assertTrue(BenchmarkReport.memoryTable(rows.subList(0, 1)).isEmpty(), "no GPU rows, no memory table");
    }
}
