package org.cnn4j.jmh;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The three passes of cnn4j's CPU convolution (two threads, the CPU machine's cores) on the 3×3,
 * padding-1 layers of vgg-small at batch 128; GFLOP/s = 2·n·k·p·q·c·9 / time for each pass, by
 * benchmarks/jmh/run. Which kernel serves each pass (direct or im2col, split by images or by taps)
 * is the backend's own choice, as in training.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class ConvBenchmark {
    /** "c-hw-k": input channels, square size, filters (no commas: JMH's -p splits values at them). */
    @Param({"64-32-64", "128-16-128", "256-8-256"})
    public String layer;

    private static final int BATCH = 128;
    private CpuBackend cpu;
    private ConvGeometry g;
    private Tensor x, w, y, dy, dx, dw;

    @Setup(Level.Trial)
    public void setUp() {
        String[] s = layer.split("-");
        int c = Integer.parseInt(s[0]), hw = Integer.parseInt(s[1]), k = Integer.parseInt(s[2]);
        g = ConvGeometry.square(c, hw, hw, k, 3, 1, 1, 1);
        cpu = new CpuBackend(2);
        Random rng = new Random(1);
        x = cpu.upload(Shape.of(BATCH, c, hw, hw), SgemmBenchmark.random(rng, BATCH * c * hw * hw));
        w = cpu.upload(Shape.of(k, c, 3, 3), SgemmBenchmark.random(rng, k * c * 9));
        dy = cpu.upload(Shape.of(BATCH, k, hw, hw), SgemmBenchmark.random(rng, BATCH * k * hw * hw));
        y = cpu.allocate(Shape.of(BATCH, k, hw, hw));
        dx = cpu.allocate(Shape.of(BATCH, c, hw, hw));
        dw = cpu.allocate(Shape.of(k, c, 3, 3));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cpu.close();
    }

    /** 2·n·k·p·q·c·r·s for the layer named by {@code c-hw-k}: the work of each pass. */
    public static double flops(String layer) {
        String[] s = layer.split("-");
        double c = Double.parseDouble(s[0]), hw = Double.parseDouble(s[1]), k = Double.parseDouble(s[2]);
        return 2.0 * BATCH * k * hw * hw * c * 9;
    }

    @Benchmark
    public Tensor forward() {
        cpu.convForward(y, x, w, g);
        return y;
    }

    @Benchmark
    public Tensor backwardData() {
        cpu.convBackwardData(dx, dy, w, g);
        return dx;
    }

    @Benchmark
    public Tensor backwardFilter() {
        cpu.convBackwardFilter(dw, x, dy, g);
        return dw;
    }
}
