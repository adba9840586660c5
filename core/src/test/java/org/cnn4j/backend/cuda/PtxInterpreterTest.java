package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The PTX interpreter behind the emulated GPU: PTX semantics where Java's differ (NaN in max,
 * copysign's operand order, unsigned comparisons, widening products, barriers over shared memory,
 * aligned barriers), the faults it reports where a GPU would go on silently, and that a wrong
 * kernel does show up in the emulated suite's comparisons.
 */
class PtxInterpreterTest {
    private static final String HEADER = ".version 7.0\n.target sm_60\n.address_size 64\n";

    private static float[] run(String ptx, String kernel, int blocks, int threads, float[] in, int outSize, Object... more) {
        EmulatedGpu gpu = new EmulatedGpu(1 << 20);
        gpu.loadModule("test.ptx", HEADER + ptx, List.of(kernel));
        DevicePointer x = gpu.tryAllocate(4L * Math.max(1, in.length)), y = gpu.tryAllocate(4L * outSize);
        if (in.length > 0) gpu.copyToDevice(x, in);
        Object[] args = new Object[2 + more.length];
        args[0] = y;
        args[1] = x;
        System.arraycopy(more, 0, args, 2, more.length);
        gpu.launch(kernel, blocks, threads, 0, args);
        float[] out = new float[outSize];
        gpu.copyToHost(out, y);
        return out;
    }

    @Test
    void arithmeticFollowsPtxWhereJavaDiffers() {
        String ptx = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param)
                {
                    .reg .b64 y, x, wide;
                    .reg .b32 big, small;
                    .reg .f32 a, b, r;
                    .reg .pred p;
                    ld.param.u64 y, [y_param];
                    ld.param.u64 x, [x_param];
                    ld.global.f32 a, [x];
                    ld.global.f32 b, [x+4];
                    max.f32 r, a, b;                 // NaN, 2: 2
                    st.global.f32 [y], r;
                    mov.f32 a, 0fC0400000;           // -3
                    copysign.f32 r, a, b;            // b = 2 with the sign of a: -2
                    st.global.f32 [y+4], r;
                    mov.u32 big, 4294967295;         // 0xFFFFFFFF: huge unsigned, -1 signed
                    mov.u32 small, 1;
                    setp.lt.u32 p, small, big;       // unsigned: 1 < 4294967295
                    selp.f32 r, 0f3F800000, 0f00000000, p;
                    st.global.f32 [y+8], r;
                    setp.lt.s32 p, small, big;       // signed: 1 < -1 is false
                    selp.f32 r, 0f3F800000, 0f00000000, p;
                    st.global.f32 [y+12], r;
                    mul.wide.u32 wide, big, big;     // (2^32 - 1)^2 needs 64 bits
                    shr.u64 wide, wide, 40;
                    cvt.rn.f32.u64 r, wide;
                    st.global.f32 [y+16], r;
                    ret;
                }
                """;
        float[] out = run(ptx, "k", 1, 1, new float[] {Float.NaN, 2}, 5);
        assertArrayEquals(new float[] {2, -2, 1, 0, (float) (((1L << 32) - 1) * ((1L << 32) - 1) >>> 40)}, out);
    }

    /** Each thread stores its index, the block syncs, each thread reads its mirror's. */
    private static final String MIRROR = """
            .visible .entry k(.param .u64 y_param, .param .u64 x_param)
            {
                .reg .b64 y, addr, mirror;
                .reg .b32 tid, n, m;
                .reg .f32 v;
                .shared .align 4 .f32 slots[64];
                ld.param.u64 y, [y_param];
                mov.u32 tid, %tid.x;
                mov.u32 n, %ntid.x;
                cvt.rn.f32.u32 v, tid;
                mul.wide.u32 addr, tid, 4;
                mov.u64 mirror, slots;
                add.s64 mirror, mirror, addr;
                st.shared.f32 [mirror], v;
                bar.sync 0;
                sub.s32 m, n, tid;
                sub.s32 m, m, 1;
                mul.wide.u32 mirror, m, 4;
                mov.u64 addr, slots;
                add.s64 addr, addr, mirror;
                ld.shared.f32 v, [addr];
                mul.wide.u32 addr, tid, 4;
                add.s64 addr, y, addr;
                st.global.f32 [addr], v;
                ret;
            }
            """;

    @Test
    void barriersOrderSharedMemoryAcrossTheBlock() {
        float[] out = run(MIRROR, "k", 1, 64, new float[0], 64);
        for (int t = 0; t < 64; t++) assertEquals(63 - t, out[t], "thread " + t);
    }

    /**
     * The threads of a block run here one after another, which hides a missing barrier: a thread
     * reading a shared word that another wrote since the last barrier, or writing one that another
     * read or wrote since then, is a fault, as the same in global memory is.
     */
    @Test
    void sharedMemoryRacesAreFaults() {
        String noBarrier = MIRROR.replace("bar.sync 0;", "");
        String m = assertThrows(PtxInterpreter.Fault.class, () -> run(noBarrier, "k", 1, 64, new float[0], 64)).getMessage();
        // Thread 31 read its mirror's slot (32) before thread 32 came to store there.
        assertTrue(m.contains("thread 32 of 64") && m.contains("st.shared.f32 [mirror], v")
                && m.contains("writes shared byte 128, which thread 31 read since the last barrier: a data race"), m);
        // Every thread reads slot 0: thread 1 reads thread 0's store with no barrier between.
        String rawRace = noBarrier.replace("sub.s32 m, n, tid;\n", "mov.u32 m, 0;\n").replace("sub.s32 m, m, 1;\n", "");
        m = assertThrows(PtxInterpreter.Fault.class, () -> run(rawRace, "k", 1, 64, new float[0], 64)).getMessage();
        assertTrue(m.contains("thread 1 of 64") && m.contains("ld.shared.f32 v, [addr]")
                && m.contains("reads shared byte 0, which thread 0 wrote since the last barrier: a data race"), m);

        // Each thread stores its index, then replaces it with its right neighbour's: a barrier between the
        // stores and the reads, and one between the reads and the second stores.
        String shift = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param)
                {
                    .reg .b64 y, addr, mine;
                    .reg .b32 tid;
                    .reg .f32 v;
                    .shared .align 4 .f32 slots[9];
                    ld.param.u64 y, [y_param];
                    mov.u32 tid, %tid.x;
                    mul.wide.u32 addr, tid, 4;
                    mov.u64 mine, slots;
                    add.s64 mine, mine, addr;
                    cvt.rn.f32.u32 v, tid;
                    st.shared.f32 [mine], v;
                    FIRST
                    ld.shared.f32 v, [mine+4];
                    SECOND
                    st.shared.f32 [mine], v;
                    bar.sync 0;
                    ld.shared.f32 v, [mine];
                    add.s64 addr, y, addr;
                    st.global.f32 [addr], v;
                    ret;
                }
                """;
        float[] out = run(shift.replace("FIRST", "bar.sync 0;").replace("SECOND", "bar.sync 0;"), "k", 1, 8, new float[0], 8);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, Float.NaN}, out, "slot 8 is never written: NaN");
        m = assertThrows(PtxInterpreter.Fault.class,
                () -> run(shift.replace("FIRST", "bar.sync 0;").replace("SECOND", ""), "k", 1, 8, new float[0], 8)).getMessage();
        assertTrue(m.contains("thread 1 of 8") && m.contains("st.shared.f32 [mine], v")
                && m.contains("writes shared byte 4, which thread 0 read since the last barrier: a data race"), m);
        m = assertThrows(PtxInterpreter.Fault.class,
                () -> run(shift.replace("FIRST", "").replace("SECOND", "bar.sync 0;"), "k", 1, 8, new float[0], 8)).getMessage();
        assertTrue(m.contains("thread 1 of 8") && m.contains("writes shared byte 4, which thread 0 read since the last barrier"), m);
    }

    @Test
    void whatAGpuWouldSurviveSilentlyIsAFault() {
        String overrun = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param, .param .u32 n_param)
                {
                    .reg .b64 y, addr;
                    .reg .b32 i, n;
                    .reg .f32 v;
                    ld.param.u64 y, [y_param];
                    ld.param.u32 n, [n_param];
                    mov.u32 i, %tid.x;
                    mul.wide.u32 addr, i, 4;
                    add.s64 addr, y, addr;
                    mov.f32 v, 0f3F800000;
                    st.global.f32 [addr], v;         // no bound check: thread n writes past the end
                    ret;
                }
                """;
        String m = assertThrows(PtxInterpreter.Fault.class, () -> run(overrun, "k", 1, 9, new float[1], 8, 8)).getMessage();
        assertTrue(m.contains("k (block 0 of 1, thread 8 of 9)") && m.contains("st.global.f32 [addr], v") && m.contains("outside device memory"), m);

        String unset = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param)
                {
                    .reg .b64 y;
                    .reg .f32 v;
                    ld.param.u64 y, [y_param];
                    st.global.f32 [y], v;
                    ret;
                }
                """;
        m = assertThrows(PtxInterpreter.Fault.class, () -> run(unset, "k", 1, 1, new float[1], 1)).getMessage();
        assertTrue(m.contains("reads a register that was never written"), m);

        m = assertThrows(IllegalArgumentException.class, () -> run(overrun, "k", 1, 1, new float[1], 8, 8L)).getMessage();
        assertTrue(m.contains("parameter 2 (n_param) is .u32, got Long 8"), m);
        m = assertThrows(IllegalArgumentException.class, () -> run(overrun, "k", 1, 1, new float[1], 8)).getMessage();
        assertTrue(m.contains("k takes 3 parameters [y_param, x_param, n_param], got 2 arguments"), m);
    }

    /** Threads of one launch that store to the same word, or read one another's stores, unordered by a barrier. */
    @Test
    void dataRacesAreFaults() {
        String sameWord = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param)
                {
                    .reg .b64 y;
                    .reg .f32 v;
                    ld.param.u64 y, [y_param];
                    mov.f32 v, 0f3F800000;
                    st.global.f32 [y], v;
                    ret;
                }
                """;
        String m = assertThrows(PtxInterpreter.Fault.class, () -> run(sameWord, "k", 1, 2, new float[1], 1)).getMessage();
        assertTrue(m.contains("thread 1 of 2") && m.contains("which thread 0 of block 0 wrote in the same launch without a barrier between"), m);
        m = assertThrows(PtxInterpreter.Fault.class, () -> run(sameWord, "k", 2, 1, new float[1], 1)).getMessage();
        assertTrue(m.contains("of 2, thread 0 of 1") && m.contains("a data race"), m);

        // Thread 0 stores a double over two words; thread 1 reads the second of them.
        String wide = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param)
                {
                    .reg .b64 y;
                    .reg .b32 tid;
                    .reg .f32 v;
                    .reg .f64 d;
                    .reg .pred p;
                    ld.param.u64 y, [y_param];
                    mov.u32 tid, %tid.x;
                    setp.ne.u32 p, tid, 0;
                    @p bra READ;
                    mov.f64 d, 0d3FF0000000000000;
                    st.global.f64 [y], d;
                    ret;
                READ:
                    ld.global.f32 v, [y+4];
                    ret;
                }
                """;
        m = assertThrows(PtxInterpreter.Fault.class, () -> run(wide, "k", 1, 2, new float[1], 2)).getMessage();
        assertTrue(m.contains("thread 1 of 2") && m.contains("which thread 0 of block 0 wrote in the same launch"), m);

        // Each thread stores its word, then reads its neighbour's: ordered by the barrier within a block, a race across blocks.
        String neighbour = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param, .param .u32 n_param)
                {
                    .reg .b64 y, addr;
                    .reg .b32 i, n, j, tmp;
                    .reg .f32 v;
                    ld.param.u64 y, [y_param];
                    ld.param.u32 n, [n_param];
                    mov.u32 i, %ctaid.x;
                    mov.u32 tmp, %ntid.x;
                    mov.u32 j, %tid.x;
                    mad.lo.u32 i, i, tmp, j;
                    cvt.rn.f32.u32 v, i;
                    mul.wide.u32 addr, i, 4;
                    add.s64 addr, y, addr;
                    st.global.f32 [addr], v;
                    bar.sync 0;
                    add.u32 j, i, 1;
                    rem.u32 j, j, n;
                    mul.wide.u32 addr, j, 4;
                    add.s64 addr, y, addr;
                    ld.global.f32 v, [addr];
                    ret;
                }
                """;
        run(neighbour, "k", 1, 8, new float[1], 8, 8);
        // Blocks run at once: a load after the neighbour block's store, or a store after its load, whichever comes second.
        m = assertThrows(PtxInterpreter.Fault.class, () -> run(neighbour, "k", 2, 4, new float[1], 8, 8)).getMessage();
        assertTrue(m.matches("(?s).*(reads 0x\\p{XDigit}+, which thread \\d of block \\d wrote|writes 0x\\p{XDigit}+, which thread \\d of block \\d read)"
                + " in the same launch without a barrier between: a data race"), m);
    }

    /**
     * A shift in place, each thread storing its right neighbour's value over its own: a thread's
     * store may land before the neighbour's load on a GPU. Here the lower thread always loads
     * first, and the result would look right.
     */
    @Test
    void aStoreOverAWordAnotherThreadReadIsARace() {
        String shift = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param, .param .u32 n_param)
                {
                    .reg .b64 y, addr;
                    .reg .b32 i, n, tmp, t;
                    .reg .f32 v;
                    .reg .pred last;
                    ld.param.u64 y, [y_param];
                    ld.param.u32 n, [n_param];
                    mov.u32 i, %ctaid.x;
                    mov.u32 tmp, %ntid.x;
                    mov.u32 t, %tid.x;
                    mad.lo.u32 i, i, tmp, t;
                    sub.u32 tmp, n, 1;
                    setp.ge.u32 last, i, tmp;
                    mul.wide.u32 addr, i, 4;
                    add.s64 addr, y, addr;
                    mov.f32 v, 0f00000000;
                    @!last ld.global.f32 v, [addr+4];
                    SYNC
                    st.global.f32 [addr], v;
                    ret;
                }
                """;
        float[] before = {1, 2, 3, 4, 5, 6, 7, 8};
        String m = assertThrows(PtxInterpreter.Fault.class, () -> shiftInPlace(shift.replace("SYNC", ""), 1, 8, before)).getMessage();
        assertTrue(m.contains("k (block 0 of 1, thread 1 of 8)") && m.contains("st.global.f32 [addr], v")
                && m.contains("which thread 0 of this block read in the same launch without a barrier between: a data race"), m);
        assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7, 8, 0}, shiftInPlace(shift.replace("SYNC", "bar.sync 0;"), 1, 8, before),
                "a barrier between the loads and the stores orders them");
        m = assertThrows(PtxInterpreter.Fault.class, () -> shiftInPlace(shift.replace("SYNC", "bar.sync 0;"), 2, 4, before)).getMessage();
        assertTrue(m.contains("a data race"), "a barrier does not order two blocks: " + m);
    }

    /** Runs a kernel that shifts y in place, from the values given. */
    private static float[] shiftInPlace(String ptx, int blocks, int threads, float[] values) {
        EmulatedGpu gpu = new EmulatedGpu(1 << 20);
        gpu.loadModule("test.ptx", HEADER + ptx, List.of("k"));
        DevicePointer y = gpu.tryAllocate(4L * values.length);
        gpu.copyToDevice(y, values);
        gpu.launch("k", blocks, threads, 0, y, null, values.length);
        float[] out = new float[values.length];
        gpu.copyToHost(out, y);
        return out;
    }

    /**
     * {@code bar.sync} is {@code barrier.sync.aligned}: a GPU may hang, or let the block run on
     * unsynchronised, where the threads that have not exited wait at different barriers, such as
     * the barrier in a loop that runs more rounds for some threads than for others.
     */
    @Test
    void threadsThatHaveNotExitedMeetAtTheSameBarrier() {
        String kernel = """
                .visible .entry k(.param .u64 y_param, .param .u64 x_param, .param .u32 n_param)
                {
                    .reg .b64 y, addr;
                    .reg .b32 i, n, rounds;
                    .reg .f32 v;
                    .reg .pred p;
                    ld.param.u64 y, [y_param];
                    ld.param.u32 n, [n_param];
                    mov.u32 i, %tid.x;
                    setp.ge.u32 p, i, n;
                    @p ret;                          // threads past n leave: they release the barriers
                    and.b32 rounds, i, ROUNDS;
                    add.u32 rounds, rounds, 1;
                LOOP:
                    bar.sync 0;
                    sub.u32 rounds, rounds, 1;
                    setp.ne.u32 p, rounds, 0;
                    @p bra LOOP;
                    cvt.rn.f32.u32 v, i;
                    mul.wide.u32 addr, i, 4;
                    add.s64 addr, y, addr;
                    st.global.f32 [addr], v;
                    ret;
                }
                """;
        float[] out = run(kernel.replace("ROUNDS", "0"), "k", 1, 8, new float[1], 8, 5);
        float nan = Float.NaN; // new device memory holds NaN
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, nan, nan, nan}, out, "every thread once round the loop; threads 5 to 7 exited");
        // Odd threads go round twice; the even ones have exited by then, which releases the odd ones' second wait.
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, nan, nan, nan}, run(kernel.replace("ROUNDS", "1"), "k", 1, 8, new float[1], 8, 5));
        // With a barrier after the loop, thread 0 waits there while thread 1 waits in the loop.
        String twoBarriers = kernel.replace("ROUNDS", "1").replace("    cvt.rn.f32.u32 v, i;", "    bar.sync 0;\n    cvt.rn.f32.u32 v, i;");
        String m = assertThrows(PtxInterpreter.Fault.class, () -> run(twoBarriers, "k", 1, 8, new float[1], 8, 5)).getMessage();
        assertTrue(m.contains("k (block 0 of 1, thread 1 of 8)") && m.contains("'bar.sync 0'")
                && m.contains("waits at a different barrier") && m.contains("than thread 0"), m);
    }

    /**
     * A grid-stride loop that steps two grids at a time skips every other grid's values. On a GPU
     * such a loop goes round only for tensors of millions of values; the emulated GPU gives its
     * launches two blocks, so the suite's small tensors show it.
     */
    @Test
    void aWrongGridStrideShowsOnSmallTensors() {
        String ptx = Kernels.source("elementwise.ptx");
        String fill = ptx.substring(ptx.indexOf(".visible .entry fill("), ptx.indexOf(".visible .entry multiply("));
        String stride = "    mul.lo.u32 stride, stride, tmp;\n";
        String broken = ptx.replace(fill, fill.replace(stride, stride + "    shl.b32 stride, stride, 1;\n"));
        try (CudaBackend right = EmulatedGpu.backend(CudaBackend.Options.defaults());
             CudaBackend wrong = withKernels("elementwise.ptx", broken)) {
            int n = 3 * 256 + 1; // more than two blocks of 256 threads cover
            for (CudaBackend b : List.of(right, wrong)) {
                Tensor y = b.allocate(Shape.of(n));
                b.fill(y, 0.5);
                float[] v = y.toFloatArray();
                long filled = IntStream.range(0, n).filter(i -> v[i] == 0.5f).count();
                assertEquals(b == right ? n : 2 * 256, filled, b == right ? "the real kernel" : "the broken kernel fills the first grid only");
            }
        }
    }

    @Test
    void aWrongKernelShowsInTheComparisonWithTheCpu() {
        // ReLU written as min(x, 0) instead of max(x, 0): the emulated backend must disagree with the CPU.
        String ptx = Kernels.source("activations.ptx");
        String broken = ptx.replace("@k max.f32 r, v, 0f00000000;", "@k min.f32 r, v, 0f00000000;");
        try (CudaBackend right = EmulatedGpu.backend(CudaBackend.Options.defaults());
             CudaBackend wrong = withKernels("activations.ptx", broken);
             CpuBackend cpu = new CpuBackend(1)) {
            float[] values = {-2, -0.5f, 0, 0.25f, 3};
            float[] expected = new float[5];
            Tensor onCpu = cpu.upload(Shape.of(5), values), outCpu = cpu.allocate(Shape.of(5));
            cpu.activationForward(Activation.RELU, outCpu, onCpu);
            System.arraycopy(outCpu.toFloatArray(), 0, expected, 0, 5);
            for (CudaBackend b : List.of(right, wrong)) {
                Tensor x = b.upload(Shape.of(5), values), y = b.allocate(Shape.of(5));
                b.activationForward(Activation.RELU, y, x);
                if (b == right) {
                    assertArrayEquals(expected, y.toFloatArray(), "the real kernel");
                } else {
                    assertTrue(!java.util.Arrays.equals(expected, y.toFloatArray()), "the broken kernel is caught");
                }
            }
        }
    }

    /** The CUDA backend over an emulated GPU that loads {@code mutant} in place of the kernel file {@code file}. */
    private static CudaBackend withKernels(String file, String mutant) {
        assertTrue(!mutant.equals(Kernels.source(file)), "the mutation applies to the current kernel");
        EmulatedGpu gpu = new EmulatedGpu(1 << 24) {
            @Override
            public void loadModule(String name, String source, List<String> entries) {
                super.loadModule(name, name.equals(file) ? mutant : source, entries);
            }
        };
        return new CudaBackend(CudaBackend.Options.defaults(), gpu, gpu::dnn, gpu::blas);
    }
}
