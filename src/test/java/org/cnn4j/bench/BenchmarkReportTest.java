package org.cnn4j.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The benchmark table sets cnn4j against PyTorch's best run of the same model, mode and device kind. */
class BenchmarkReportTest {
    @Test
    void ratioIsOursOverPytorchsBestOnTheSameKindOfDevice() {
        List<BenchmarkReport.Row> rows = List.of(
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "fmnist-cnn", 256, "train", 100, 2560),
                new BenchmarkReport.Row("cnn4j", "cuda(NVIDIA H100) TF32", "fmnist-cnn", 256, "train", 1, 256000),
                new BenchmarkReport.Row("pytorch-eager", "cpu", "fmnist-cnn", 256, "train", 200, 1280),
                new BenchmarkReport.Row("pytorch-eager", "NVIDIA H100", "fmnist-cnn", 256, "train", 2, 128000),
                new BenchmarkReport.Row("pytorch-graph", "NVIDIA H100", "fmnist-cnn", 256, "train", 0.5, 512000),
                new BenchmarkReport.Row("cnn4j", "cpu(2 threads)", "lenet5", 256, "infer", 10, 25600));
        String table = BenchmarkReport.table(rows);
        assertTrue(table.matches("(?s).*cpu\\s+fmnist-cnn\\s+256 train .*2560\\s+pytorch-eager\\s+1280\\s+2\\.00x.*"), table);
        assertTrue(table.matches("(?s).*gpu\\s+fmnist-cnn\\s+256 train .*256000\\s+pytorch-graph\\s+512000\\s+0\\.50x.*"), table);
        assertTrue(table.matches("(?s).*cpu\\s+lenet5\\s+256 infer .*25600\\s+-\\s+-\\s+-.*"), table);
    }
}
