package org.cnn4j.jmh;

import java.util.Random;
import java.util.concurrent.TimeUnit;

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
 * cnn4j's CPU SGEMM (CpuBackend.gemm, one thread, so the figure is per core) on square and
 * convolution-shaped products; GFLOP/s = 2·m·n·k / time, set against {@link PeakFmaBenchmark}
 * by benchmarks/jmh/run.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class SgemmBenchmark {
    /** "m,n,k": square sizes and the fmnist-cnn conv2 forward product (64 × 484 × 288). */
    @Param({"256,256,256", "512,512,512", "64,484,288"})
    public String shape;

    private CpuBackend cpu;
    private Tensor a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        String[] s = shape.split(",");
        int m = Integer.parseInt(s[0]), n = Integer.parseInt(s[1]), k = Integer.parseInt(s[2]);
        cpu = new CpuBackend(1);
        Random rng = new Random(1);
        a = cpu.upload(Shape.of(m, k), random(rng, m * k));
        b = cpu.upload(Shape.of(k, n), random(rng, k * n));
        c = cpu.allocate(Shape.of(m, n));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cpu.close();
    }

    /** n standard Gaussian floats (also ConvBenchmark's inputs). */
    static float[] random(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rng.nextGaussian();
        return v;
    }

    @Benchmark
    public Tensor gemm() {
        cpu.gemm(false, false, 1, a, b, 0, c);
        return c;
    }
}
