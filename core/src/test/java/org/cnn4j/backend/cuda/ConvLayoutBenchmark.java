package org.cnn4j.backend.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Function;

import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.Devices;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.model.Models;
import org.cnn4j.model.Graph;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Should cnn4j keep its feature maps in NHWC on the GPU? Times cuDNN's convolution passes of each
 * convolution layer of a built-in model (those a training step runs: no data gradient for a first
 * layer) with every tensor in NCHW (the CUDA backend's layout) and again in NHWC (channels
 * innermost, the order tensor cores read), in TF32 and in strict float32, each with the algorithm
 * {@code cudnnFind} measures fastest in that layout.
 *
 * <p>Both layouts compute the same random data (the host writes the NHWC copies), and each pass's
 * NHWC result, read back into NCHW order, must match the NCHW one within 1e-5 of its largest
 * value in strict float32, 1e-2 with TF32 (as the GPU test suite's tolerances): a time is only
 * worth reading for a correct result. A pass is timed as a CUDA graph of {@code repeats} calls
 * replayed, so launch overhead on the host does not count; the median of {@code windows}
 * replays is reported. The graph is kept off where capture fails, and the calls timed one by one.
 *
 * <p>What it leaves out: a whole NHWC network also needs its pooling, bias and activation kernels
 * in NHWC, and those are bandwidth-bound passes whose cost does not depend on the layout.
 *
 * <p>Usage: {@code ConvLayoutBenchmark [model] [batch] [windows] [repeats]}, by default
 * {@code vgg-small 128 5 20}. Run through benchmarks/conv-layouts, bin/cnn4j-conv-layouts in the
 * bundle; without a usable GPU it says so and exits with status 2. An experiment, not part of the
 * library: it lives with the tests, which the bundle carries.
 */
public final class ConvLayoutBenchmark {
    private static final Logger log = LoggerFactory.getLogger(ConvLayoutBenchmark.class);
    private static final double STRICT = 1e-5, TF32 = 1e-2;

    /** One pass in one layout: the algorithm cuDNN chose, its math type and workspace, and the median microseconds per call. */
    public record Timing(int algo, int mathType, long workspace, double micros, boolean graphed) {
    }

    /**
     * One pass of one convolution layer in one math mode in both layouts, and the largest
     * difference between their results relative to the largest NCHW value. A layout cuDNN could not
     * run (no algorithm for it, say) has a null timing, the reason in {@code failure}, and the
     * difference NaN.
     */
    public record Row(String layer, ConvGeometry geometry, String pass, boolean tf32, Timing nchw, Timing nhwc, double difference,
                      String failure) {
        /** NCHW time over NHWC time: above 1, NHWC is faster; NaN when either did not run. */
        public double speedup() {
            return nchw == null || nhwc == null ? Double.NaN : nchw.micros / nhwc.micros;
        }

        /** Whether both layouts ran and gave the same result within the math mode's tolerance. */
        public boolean agrees() {
            return difference <= (tf32 ? TF32 : STRICT);
        }

        /** Whether both ran and their results differ beyond the tolerance: a wrong result, not a missing one. */
        public boolean disagrees() {
            return failure == null && !agrees();
        }
    }

    /** One pass in one layout: its result in NCHW order and its timing, or why cuDNN could not run it. */
    private record Outcome(float[] result, Timing timing, String failure) {
        static Outcome of(Dnn dnn, Operands o, Dnn.Direction d, int mathType, Workspace workspace, GpuDriver driver, int windows, int repeats) {
            try {
                Run run = new Run(dnn, o, d, mathType, workspace, driver);
                return new Outcome(run.result(), run.time(windows, repeats), null);
            } catch (CudaException e) {
                log.warn("{} {} in {}: {}", d, o.g, dnn.layout(), e.getMessage());
                return new Outcome(null, null, dnn.layout() + ": " + e.getMessage());
            }
        }
    }

    private ConvLayoutBenchmark() {
    }

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "vgg-small";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int windows = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int repeats = args.length > 3 ? Integer.parseInt(args[3]) : 20;
        Result result;
        try {
            result = run(model, batch, windows, repeats);
        } catch (IllegalStateException e) {
            System.out.println(e.getMessage());
            System.exit(2);
            return;
        }
        System.out.println("cuDNN convolutions of " + model + ", batch " + batch + ", on " + result.device() + ":");
        System.out.print(table(result.rows()));
        if (result.rows().stream().anyMatch(Row::disagrees)) {
            System.out.println("a pass's NHWC result differs from its NCHW result beyond the tolerance (marked !)");
            System.exit(1);
        }
    }

    /** The rows of one run and the GPU they were measured on. */
    public record Result(String device, List<Row> rows) {
    }

    /**
     * Measures a built-in model's convolutions on GPU 0; fails with IllegalStateException, saying
     * why, when there is no usable GPU or no cuDNN.
     */
    public static Result run(String model, int batch, int windows, int repeats) {
        List<Convolution> layers = convolutions(model);
        GpuDriver driver;
        try {
            driver = new CudaDriver(0);
        } catch (LinkageError | CudaException e) { // LinkageError: no libcuda, or JCuda failed to load earlier in this JVM
            throw new IllegalStateException("no usable GPU, nothing to measure: " + Devices.reason(e), e);
        }
        try (driver) {
            return new Result(driver.description(), measure(layers, batch, windows, repeats, driver,
                    layout -> new Cudnn(CudaBackend.cudnnLibrary(), layout)));
        } catch (CudaException e) { // cuDNN missing, say: the message says what was tried
            throw new IllegalStateException("cannot measure: " + e.getMessage(), e);
        }
    }

    /**
     * A convolution layer of a model: its name, geometry, and whether a training step computes its
     * data gradient (not for the model's first layer, whose input is the batch).
     */
    public record Convolution(String name, ConvGeometry geometry, boolean dataGradient) {
    }

    /** The convolution layers of a built-in model. */
    public static List<Convolution> convolutions(String model) {
        try (CpuBackend cpu = new CpuBackend(1); Graph m = Models.byName(model).seed(1).build(cpu)) {
            return m.layers().stream().filter(l -> l instanceof Conv2d)
                    .map(l -> new Convolution(l.name(), ((Conv2d) l).geometry(), l != m.layers().getFirst())).toList();
        }
    }

    /** Measures each pass a training step runs of each convolution layer, in both math modes and both layouts. */
    static List<Row> measure(List<Convolution> layers, int batch, int windows, int repeats, GpuDriver driver,
            Function<Dnn.Layout, Dnn> cudnn) {
        List<Row> rows = new ArrayList<>();
        try (DeviceMemory memory = new DeviceMemory(driver); Dnn nchw = cudnn.apply(Dnn.Layout.NCHW); Dnn nhwc = cudnn.apply(Dnn.Layout.NHWC)) {
            nchw.useStream(driver.streamAddress());
            nhwc.useStream(driver.streamAddress());
            Workspace workspace = new Workspace(memory);
            try {
                for (Convolution layer : layers) {
                    ConvGeometry g = layer.geometry();
                    try (Operands a = new Operands(g, batch, memory, driver, nchw.layout()); Operands b = new Operands(g, batch, memory, driver, nhwc.layout())) {
                        for (boolean tf32 : new boolean[] {true, false}) {
                            for (Dnn.Direction d : Dnn.Direction.values()) {
                                if (d == Dnn.Direction.BACKWARD_DATA && !layer.dataGradient()) continue;
                                int math = tf32 ? Dnn.DEFAULT_MATH : Dnn.FMA_MATH;
                                Outcome first = Outcome.of(nchw, a, d, math, workspace, driver, windows, repeats);
                                Outcome second = Outcome.of(nhwc, b, d, math, workspace, driver, windows, repeats);
                                boolean both = first.failure() == null && second.failure() == null;
                                rows.add(new Row(layer.name(), g, d.name().toLowerCase(Locale.ROOT).replace('_', '-'), tf32, first.timing(),
                                        second.timing(), both ? difference(first.result(), second.result()) : Double.NaN,
                                        first.failure() != null ? first.failure() : second.failure()));
                            }
                        }
                    }
                }
            } finally {
                workspace.close();
            }
        }
        return rows;
    }

    /** The table: one line per pass, then the sum over a model's passes per math mode. */
    public static String table(List<Row> rows) {
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%-8s %-15s %-5s %10s %10s %8s  %-22s %-22s %s%n",
                "layer", "pass", "math", "NCHW us", "NHWC us", "speedup", "NCHW algo/math/ws", "NHWC algo/math/ws", "difference"));
        for (Row r : rows) {
            boolean both = r.failure() == null;
            out.append(String.format(Locale.ROOT, "%-8s %-15s %-5s %10s %10s %8s  %-22s %-22s %s%s%n", r.layer(), r.pass(),
                    r.tf32() ? "tf32" : "fp32", micros(r.nchw()), micros(r.nhwc()), both ? String.format(Locale.ROOT, "%.2fx", r.speedup()) : "-",
                    algorithm(r.nchw()), algorithm(r.nhwc()), both ? String.format(Locale.ROOT, "%.1e", r.difference()) : "-",
                    r.disagrees() ? " !" : ""));
        }
        for (boolean tf32 : new boolean[] {true, false}) {
            List<Row> both = rows.stream().filter(r -> r.tf32() == tf32 && r.failure() == null).toList();
            double a = both.stream().mapToDouble(r -> r.nchw().micros()).sum(), b = both.stream().mapToDouble(r -> r.nhwc().micros()).sum();
            out.append(String.format(Locale.ROOT, "%-8s %-15s %-5s %10.1f %10.1f %7.2fx%n", "all", "every pass", tf32 ? "tf32" : "fp32", a, b, a / b));
        }
        rows.stream().filter(r -> r.failure() != null).forEach(r -> out.append(String.format(Locale.ROOT,
                "%s %s %s left out of the sums, cuDNN could not run it in %s%n", r.layer(), r.pass(), r.tf32() ? "tf32" : "fp32", r.failure())));
        if (rows.stream().flatMap(r -> java.util.stream.Stream.of(r.nchw(), r.nhwc())).anyMatch(t -> t != null && !t.graphed())) {
            out.append("some passes could not be captured in a graph and were timed call by call (see the log)\n");
        }
        return out.toString();
    }

    private static String micros(Timing t) {
        return t == null ? "-" : String.format(Locale.ROOT, "%.1f", t.micros());
    }

    /** "1/tc/4096B": the algorithm, the math type its measurement reported (cudnnMathType_t) and its workspace. */
    private static String algorithm(Timing t) {
        if (t == null) return "-";
        String math = switch (t.mathType()) {
            case 0 -> "default";
            case 1 -> "tc";
            case 2 -> "tc-conv";
            case 3 -> "fma";
            default -> "math" + t.mathType();
        };
        return t.algo() + "/" + math + "/" + t.workspace() + "B";
    }

    /** max |a − b| over max |a|. */
    static double difference(float[] a, float[] b) {
        double scale = 0, worst = 0;
        for (int i = 0; i < a.length; i++) {
            scale = Math.max(scale, Math.abs(a[i]));
            worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
        }
        return scale == 0 ? worst : worst / scale;
    }

    /** One shared cuDNN workspace, grown to the largest that a chosen algorithm asks for. */
    private static final class Workspace implements AutoCloseable {
        private final DeviceMemory memory;
        private DevicePointer pointer;
        private long bytes;

        Workspace(DeviceMemory memory) {
            this.memory = memory;
        }

        long address(long needed) {
            if (needed > bytes) {
                if (pointer != null) memory.release(pointer, bytes);
                pointer = memory.allocate(needed, "the cuDNN workspace");
                bytes = needed;
            }
            return pointer == null ? 0 : pointer.address();
        }

        @Override
        public void close() {
            if (pointer != null) memory.release(pointer, bytes);
        }
    }

    /**
     * A convolution's x, w, dy (random, the same values in either layout: seeded by the geometry)
     * and its y, dx, dw on the device in one layout; results come back in NCHW order.
     */
    private static final class Operands implements AutoCloseable {
        final ConvGeometry g;
        final int n;
        final Dnn.Layout layout;
        final DevicePointer x, w, dy, y, dx, dw;
        private final DeviceMemory memory;
        private final GpuDriver driver;
        private final long xBytes, wBytes, yBytes;

        Operands(ConvGeometry g, int n, DeviceMemory memory, GpuDriver driver, Dnn.Layout layout) {
            this.g = g;
            this.n = n;
            this.layout = layout;
            this.memory = memory;
            this.driver = driver;
            xBytes = 4L * n * g.c() * g.h() * g.w();
            wBytes = 4L * g.k() * g.c() * g.r() * g.s();
            yBytes = 4L * n * g.k() * g.p() * g.q();
            Random rng = new Random(g.hashCode());
            x = upload(random(rng, xBytes), n, g.c(), g.h(), g.w());
            w = upload(random(rng, wBytes), g.k(), g.c(), g.r(), g.s());
            dy = upload(random(rng, yBytes), n, g.k(), g.p(), g.q());
            y = memory.allocate(yBytes, "y");
            dx = memory.allocate(xBytes, "dx");
            dw = memory.allocate(wBytes, "dw");
        }

        private static float[] random(Random rng, long bytes) {
            float[] v = new float[(int) (bytes / 4)];
            for (int i = 0; i < v.length; i++) v[i] = (float) rng.nextGaussian();
            return v;
        }

        private DevicePointer upload(float[] nchw, int a, int b, int c, int d) {
            DevicePointer p = memory.allocate(4L * nchw.length, "an operand");
            driver.copyToDevice(p, layout == Dnn.Layout.NHWC ? channelsLast(nchw, a, b, c, d) : nchw);
            return p;
        }

        /** An output of this pass, (a, b, c, d) in the layout, read back in NCHW order. */
        float[] download(DevicePointer p, int a, int b, int c, int d) {
            float[] v = new float[a * b * c * d];
            driver.copyToHost(v, p);
            return layout == Dnn.Layout.NHWC ? channelsFirst(v, a, b, c, d) : v;
        }

        @Override
        public void close() {
            memory.release(x, xBytes);
            memory.release(w, wBytes);
            memory.release(dy, yBytes);
            memory.release(y, yBytes);
            memory.release(dx, xBytes);
            memory.release(dw, wBytes);
        }
    }

    /** One pass in one layout with its chosen algorithm: runs it once for its result, then times it. */
    private static final class Run {
        private final Dnn dnn;
        private final Operands o;
        private final Dnn.Direction direction;
        private final Dnn.Choice choice;
        private final Workspace workspace;
        private final GpuDriver driver;

        Run(Dnn dnn, Operands o, Dnn.Direction direction, int mathType, Workspace workspace, GpuDriver driver) {
            this.dnn = dnn;
            this.o = o;
            this.direction = direction;
            this.driver = driver;
            this.workspace = workspace;
            choice = dnn.choose(o.g, o.n, direction, mathType, CudaBackend.Options.defaults().workspaceLimit(), false);
        }

        /** One call, with the shared workspace grown beforehand (never while capturing) to what the choice needs. */
        private void call(long workspace) {
            ConvGeometry g = o.g;
            switch (direction) {
                case FORWARD -> dnn.convolutionForward(g, o.n, choice, o.x.address(), o.w.address(), o.y.address(), workspace);
                case BACKWARD_DATA -> dnn.convolutionBackwardData(g, o.n, choice, o.w.address(), o.dy.address(), o.dx.address(), workspace);
                case BACKWARD_FILTER -> dnn.convolutionBackwardFilter(g, o.n, choice, o.x.address(), o.dy.address(), o.dw.address(), workspace);
            }
        }

        /** The pass's output after one call, in NCHW order (the filter gradient accumulates onto zeros). */
        float[] result() {
            ConvGeometry g = o.g;
            if (direction == Dnn.Direction.BACKWARD_FILTER) driver.fill32(o.dw, 0, (long) g.k() * g.c() * g.r() * g.s());
            call(workspace.address(choice.workspace()));
            return switch (direction) {
                case FORWARD -> o.download(o.y, o.n, g.k(), g.p(), g.q());
                case BACKWARD_DATA -> o.download(o.dx, o.n, g.c(), g.h(), g.w());
                case BACKWARD_FILTER -> o.download(o.dw, g.k(), g.c(), g.r(), g.s());
            };
        }

        Timing time(int windows, int repeats) {
            long ws = workspace.address(choice.workspace());
            GpuDriver.Recording graph = null;
            try {
                driver.beginCapture();
                for (int i = 0; i < repeats; i++) call(ws);
                graph = driver.endCapture(true);
            } catch (RuntimeException e) {
                if (driver.capturing()) {
                    try {
                        driver.endCapture(false); // fails again when the capture was invalidated; the stream leaves capture mode either way
                    } catch (RuntimeException alsoFailed) {
                        e.addSuppressed(alsoFailed);
                    }
                }
                log.warn("{} {} in {}: capture failed ({}); timing the calls one by one", direction, o.g, dnn.layout(), e.getMessage());
            }
            try {
                GpuDriver.Recording replay = graph;
                Runnable window = replay != null ? replay::launch : () -> {
                    for (int i = 0; i < repeats; i++) call(ws);
                };
                window.run(); // warm-up
                double[] micros = new double[windows];
                for (int w = 0; w < windows; w++) {
                    driver.synchronize();
                    long t0 = System.nanoTime();
                    window.run();
                    driver.synchronize();
                    micros[w] = (System.nanoTime() - t0) / 1e3 / repeats;
                }
                Arrays.sort(micros);
                return new Timing(choice.algo(), choice.mathType(), choice.workspace(), micros[windows / 2], graph != null);
            } finally {
                if (graph != null) graph.close();
            }
        }
    }

    /** (a, b, c, d) in NCHW order to (a, c, d, b): channels last. */
    static float[] channelsLast(float[] v, int a, int b, int c, int d) {
        return moveChannels(v, a, b, c * d, true);
    }

    /** The inverse of {@link #channelsLast}. */
    static float[] channelsFirst(float[] v, int a, int b, int c, int d) {
        return moveChannels(v, a, b, c * d, false);
    }

    /** Element (i, j, s) of (a, b, plane) goes to (i, s, j) of (a, plane, b), or back. */
    private static float[] moveChannels(float[] v, int a, int b, int plane, boolean last) {
        float[] out = new float[v.length];
        for (int i = 0; i < a; i++) {
            for (int j = 0; j < b; j++) {
                for (int s = 0; s < plane; s++) {
                    int first = (i * b + j) * plane + s, second = (i * plane + s) * b + j;
                    if (last) out[second] = v[first];
                    else out[first] = v[second];
                }
            }
        }
        return out;
    }
}
