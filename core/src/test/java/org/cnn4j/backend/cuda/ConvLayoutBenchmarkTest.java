package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * The NCHW-against-NHWC convolution benchmark, run end to end on the emulated GPU (whose cuDNN
 * reads and writes NHWC as cudnnTensorFormat_t defines it): both layouts must give the same
 * results, and a layout the library does not honour must show as a mismatch. Times mean nothing here.
 */
class ConvLayoutBenchmarkTest {

    @Test
    void channelsMoveInnermostAndBack() {
        // (1, 2, 1, 3): channel a = {a0, a1, a2}, channel b = {b0, b1, b2}.
        float[] nchw = {1, 2, 3, 10, 20, 30};
        float[] nhwc = {1, 10, 2, 20, 3, 30};
        assertArrayEquals(nhwc, ConvLayoutBenchmark.channelsLast(nchw, 1, 2, 1, 3));
        assertArrayEquals(nchw, ConvLayoutBenchmark.channelsFirst(nhwc, 1, 2, 1, 3));
        assertArrayEquals(nchw, EmulatedGpu.nchw(Dnn.Layout.NHWC, nhwc, 1, 2, 1, 3), "the emulator reads NHWC the same way");
        float[] big = new float[2 * 3 * 4 * 5];
        for (int i = 0; i < big.length; i++) big[i] = i;
        assertArrayEquals(big, ConvLayoutBenchmark.channelsFirst(ConvLayoutBenchmark.channelsLast(big, 2, 3, 4, 5), 2, 3, 4, 5));
        assertArrayEquals(ConvLayoutBenchmark.channelsLast(big, 2, 3, 4, 5), EmulatedGpu.inLayout(Dnn.Layout.NHWC, big, 2, 3, 4, 5));
    }

    @Test
    void everyPassOfEveryConvolutionIsTimedInBothLayoutsAndAgrees() {
        EmulatedGpu gpu = new EmulatedGpu(1L << 30);
        List<ConvLayoutBenchmark.Convolution> convs = ConvLayoutBenchmark.convolutions("fmnist-cnn");
        assertEquals(List.of(false, true), convs.stream().map(ConvLayoutBenchmark.Convolution::dataGradient).toList(), "conv1 takes the batch");
        List<ConvLayoutBenchmark.Row> rows = ConvLayoutBenchmark.measure(convs, 3, 1, 2, gpu, gpu::dnn);
        assertEquals(2 * 2 + 2 * 3, rows.size(), "two math modes; conv1 without its data gradient, conv2 with: " + rows);
        for (ConvLayoutBenchmark.Row r : rows) {
            assertTrue(r.agrees() && r.difference() < 1e-6, r.toString());
            assertTrue(r.nchw().graphed() && r.nhwc().graphed() && r.nchw().micros() > 0 && r.nhwc().micros() > 0, r.toString());
            assertEquals(r.tf32() ? Dnn.DEFAULT_MATH : Dnn.FMA_MATH, r.nhwc().mathType(), r.toString());
        }
        String table = ConvLayoutBenchmark.table(rows);
        assertTrue(table.contains("conv") && table.contains("backward-filter") && table.contains("every pass"), table);
    }

    /** {@code dnn} with {@code change} applied first to every call: it returns a value to answer with, or null to go on. */
    private static Dnn altered(Dnn dnn, java.util.function.BiFunction<java.lang.reflect.Method, Object[], Object> change) {
        return (Dnn) Proxy.newProxyInstance(Dnn.class.getClassLoader(), new Class<?>[] {Dnn.class}, (proxy, method, args) -> {
            Object answer = change.apply(method, args);
            if (answer != null) return answer;
            try {
                return method.invoke(dnn, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    @Test
    void aLayoutTheLibraryIgnoresShowsAsAMismatch() {
        EmulatedGpu gpu = new EmulatedGpu(1L << 30);
        // Claims NHWC, computes as NCHW: what a descriptor left in the wrong format would do.
        Dnn lying = altered(gpu.dnn(Dnn.Layout.NCHW), (m, args) -> m.getName().equals("layout") ? Dnn.Layout.NHWC : null);
        List<ConvLayoutBenchmark.Row> rows = ConvLayoutBenchmark.measure(ConvLayoutBenchmark.convolutions("fmnist-cnn").subList(0, 1), 2, 1, 1,
                gpu, layout -> layout == Dnn.Layout.NHWC ? lying : gpu.dnn(layout));
        for (ConvLayoutBenchmark.Row r : rows) assertTrue(r.disagrees(), "caught: " + r);
        assertTrue(ConvLayoutBenchmark.table(rows).contains(" !"), ConvLayoutBenchmark.table(rows));
    }

    @Test
    void passesThatCannotBeCapturedAreTimedCallByCall() {
        EmulatedGpu gpu = new EmulatedGpu(1L << 30);
        // As cuDNN would refuse some algorithm while the stream records (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED).
        java.util.function.Function<Dnn.Layout, Dnn> refusing = layout -> altered(gpu.dnn(layout), (m, args) -> {
            if (m.getName().startsWith("convolutionBackwardFilter") && gpu.capturing()) throw new CudaException("not while capturing");
            return null;
        });
        List<ConvLayoutBenchmark.Row> rows = ConvLayoutBenchmark.measure(ConvLayoutBenchmark.convolutions("fmnist-cnn").subList(0, 1), 2, 1, 1,
                gpu, refusing);
        for (ConvLayoutBenchmark.Row r : rows) {
            boolean filter = r.pass().equals("backward-filter");
            assertEquals(!filter, r.nchw().graphed(), r.toString());
            assertEquals(!filter, r.nhwc().graphed(), r.toString());
            assertTrue(r.agrees() && r.nchw().micros() > 0, r.toString());
        }
        assertFalse(gpu.capturing(), "the stream left capture mode");
        assertTrue(ConvLayoutBenchmark.table(rows).contains("could not be captured"), ConvLayoutBenchmark.table(rows));
    }

    @Test
    void aPassCuDnnCannotRunInALayoutIsReportedAndLeftOutOfTheSums() {
        EmulatedGpu gpu = new EmulatedGpu(1L << 30);
        // As cuDNN might offer no NHWC float32 algorithm for some pass.
        java.util.function.Function<Dnn.Layout, Dnn> partial = layout -> altered(gpu.dnn(layout), (m, args) -> {
            if (layout == Dnn.Layout.NHWC && m.getName().equals("choose") && args[2] == Dnn.Direction.BACKWARD_FILTER) {
                throw new CudaException("no cuDNN algorithm for BACKWARD_FILTER fits");
            }
            return null;
        });
        List<ConvLayoutBenchmark.Row> rows = ConvLayoutBenchmark.measure(ConvLayoutBenchmark.convolutions("fmnist-cnn").subList(0, 1), 2, 1, 1,
                gpu, partial);
        assertEquals(4, rows.size(), "every pass of conv1 has its row");
        for (ConvLayoutBenchmark.Row r : rows) {
            boolean filter = r.pass().equals("backward-filter");
            assertEquals(filter, r.nhwc() == null, r.toString());
            assertTrue(r.nchw() != null && !r.disagrees(), r.toString());
            assertEquals(filter, Double.isNaN(r.speedup()), r.toString());
        }
        String table = ConvLayoutBenchmark.table(rows);
        assertTrue(table.contains("backward-filter tf32 left out of the sums, cuDNN could not run it in NHWC: no cuDNN algorithm"), table);
    }
}
