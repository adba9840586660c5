package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.cnn4j.bench.LayerTimes;
import org.cnn4j.bench.TrainStepBenchmark;
import org.cnn4j.model.Models;
import org.cnn4j.model.Graph;
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
        try (CudaBackend gpu = EmulatedGpu.backend(CudaBackend.Options.defaults()); Graph m = Models.byName("lenet5").seed(1).build(gpu)) {
            List<LayerTimes.Timing> times = LayerTimes.measure(m, 4, 1, 1);
            assertEquals(m.layers().size(), times.size(), "one row per layer");
            for (LayerTimes.Timing t : times) assertTrue(t.forwardMs() >= 0 && t.backwardMs() >= 0, t.toString());
        }
    }

    /**
     * What a recorded training step holds, operation by operation (each a node of the CUDA graph, and
     * on a GPU a launch: the cost that bounds a small step): fmnist-cnn's, as a guard against
     * launches creeping in. Zeroing the gradients and the SGD update are one launch each; each
     * convolution with its bias and ReLU one cuDNN call after a memset of its output (which is also
     * the call's z input: zeros, never a recycled block's NaN), each dense layer's bias and activation
     * one kernel, each max pooling's backward pass with the ReLU's before it one kernel; no memory is
     * copied and no other is set.
     */
    @Test
    void theRecordedFmnistStepHoldsTheseOperations() {
        EmulatedGpu gpu = new EmulatedGpu(1L << 30);
        try (CudaBackend backend = new CudaBackend(CudaBackend.Options.defaults(), gpu, gpu::dnn, gpu::blas);
             Graph m = Models.byName("fmnist-cnn").seed(1).build(backend);
             org.cnn4j.model.GraphedStep step = new org.cnn4j.model.GraphedStep(m, new org.cnn4j.optim.Sgd(0.01).momentum(0.9), 2, 4)) {
            float[] x = new float[m.inputShape().batch(2).size()];
            for (int i = 0; i < 3; i++) step.run(x, new int[2]);
            assertEquals(2, step.replays());
            String forward = "fill_chunks, memset, cudnn convolutionBiasReluForward, max_pool_forward, memset, cudnn convolutionBiasReluForward, max_pool_forward, "
                    + "cublasSgemm, bias_activation, cublasSgemm, bias_activation, softmax_cross_entropy, record_step";
            String backward = "cublasSgemm, cudnn biasBackward, cublasSgemm, activation_backward, cudnn biasBackward, cublasSgemm, cublasSgemm, "
                    + "max_pool_backward_cells, plane_sums_to_bias, cudnn convolutionBackwardFilter, cudnn convolutionBackwardData, "
                    + "max_pool_backward_cells, plane_sums_to_bias, cudnn convolutionBackwardFilter, sgd_steps";
            assertEquals(forward + ", " + backward, String.join(", ", gpu.lastRecording()));
        }
    }

    /**
     * Max-pool backward by cells against the general gather, on vgg-small's pool1 (64 planes of
     * 32×32 per image) with the ReLU folded in: what the threads execute, counted by the PTX
     * interpreter. Not a timing; an integer division costs a GPU a dozen or more instructions, so
     * the divisions are counted apart. Per input: the gather 98.8 instructions of which 8 divisions,
     * the cells 28.5 of which 0.5, with the planes' sums for the bias gradient.
     */
    @Test
    void theCellKernelsExecuteFewerInstructionsAndDivisions() {
        EmulatedGpu gpu = new EmulatedGpu(1L << 30);
        try (CudaBackend backend = new CudaBackend(CudaBackend.Options.defaults(), gpu, gpu::dnn, gpu::blas)) {
            org.cnn4j.backend.PoolGeometry pool1 = org.cnn4j.backend.PoolGeometry.square(64, 32, 32, 2, 2);
            org.cnn4j.tensor.Shape in = org.cnn4j.tensor.Shape.of(2, 64, 32, 32), out = org.cnn4j.tensor.Shape.of(2, 64, 16, 16);
            java.util.Random rng = new java.util.Random(1);
            org.cnn4j.tensor.Tensor x = backend.upload(in, org.cnn4j.testing.Data.gaussian(rng, in.size(), 1));
            org.cnn4j.tensor.Tensor y = backend.allocate(out), mask = backend.allocateInts(out), dx = backend.allocate(in);
            org.cnn4j.tensor.Tensor dy = backend.upload(out, org.cnn4j.testing.Data.gaussian(rng, out.size(), 1));
            backend.maxPoolForward(y, mask, x, pool1);
            for (boolean cells : new boolean[] {false, true}) {
                backend.usePoolCells(cells);
                backend.maxPoolBackward(dx, dy, mask, x, pool1);
            }
            backend.synchronize();
            PtxInterpreter.Counts gather = gpu.counts("max_pool_backward"), byCells = gpu.counts("max_pool_backward_cells");
            String report = String.format(java.util.Locale.ROOT, "vgg-small pool1 backward, per input: gather %.1f instructions, %.1f divisions; "
                    + "cells %.1f instructions, %.2f divisions", (double) gather.instructions() / in.size(), (double) gather.divisions() / in.size(),
                    (double) byCells.instructions() / in.size(), (double) byCells.divisions() / in.size());
            org.slf4j.LoggerFactory.getLogger(EmulatedBenchmarksTest.class).info(report);
            assertEquals(in.size(), gather.globalStores(), "the gather stores each input once");
            assertEquals(in.size() + 2 * 64, byCells.globalStores(), "so do the cells, and each plane's sum once");
            assertTrue(byCells.instructions() < gather.instructions() && byCells.divisions() * 8 <= gather.divisions(), report);
        }
    }
}
