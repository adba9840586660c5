package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.cnn4j.bench.LayerTimes;
import org.cnn4j.bench.TrainStepBenchmark;
import org.cnn4j.model.Models;
import org.cnn4j.model.Sequential;
import org.junit.jupiter.api.Test;

/**
 * The GPU half of the benchmarks (the training-step benchmark with its graph replays and peak
 * device memory, and the per-layer timings of {@code cnn4j bench}) run end to end on an emulated
 * GPU, so that they are known to work before a GPU node runs them. The times mean nothing here.
 */
class EmulatedBenchmarksTest {

    @Test
    void theTrainStepBenchmarkReplaysTheStepAndReportsPeakMemory() {
        try (CudaBackend gpu = EmulatedGpu.backend(CudaBackend.Options.defaults())) {
            TrainStepBenchmark.Result r = TrainStepBenchmark.measure("lenet5", 8, 1, 2, gpu);
            assertTrue(r.graphReplays() > 0, "the timed steps replay the recorded graph: " + r);
            assertTrue(r.peakBytes() > 0, "peak device memory is tracked: " + r);
            assertTrue(r.trainSeconds() > 0 && r.inferSeconds() > 0, r.toString());
        }
    }

    @Test
    void perLayerTimingsCoverEveryLayer() {
        try (CudaBackend gpu = EmulatedGpu.backend(CudaBackend.Options.defaults()); Sequential m = Models.byName("lenet5").seed(1).build(gpu)) {
            List<LayerTimes.Timing> times = LayerTimes.measure(m, 4, 1, 1);
            assertEquals(m.layers().size(), times.size(), "one row per layer");
            for (LayerTimes.Timing t : times) assertTrue(t.forwardMs() >= 0 && t.backwardMs() >= 0, t.toString());
        }
    }
}
