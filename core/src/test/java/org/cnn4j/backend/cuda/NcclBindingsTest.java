package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;

import org.cnn4j.distributed.Communicator;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The foreign-function binding to NCCL ({@link Nccl}) against a stub library built here (test
 * resource stub_nccl.c, with nccl.h's signatures and its 128-byte ncclUniqueId passed by value),
 * which logs every argument it receives: the id's bytes as ncclCommInitRank received them, the
 * all-reduces' buffers, 64-bit counts, data type ncclFloat32 (7) and operation ncclAvg (4) inside
 * one group, the stream, and the error texts. On a GPU the same code runs against the real
 * library (the GPU report's one-process all-reduce).
 */
class NcclBindingsTest {
    @TempDir
    static Path dir;
    private static Path stub;
    private static MethodHandle log, clear, version, failAllReduce, asyncError;

    @BeforeAll
    static void buildStub() throws IOException, InterruptedException {
        stub = StubLibrary.build(dir, "stub_nccl.c", "libstubnccl.so");
        if (stub == null) return;
        SymbolLookup lookup = SymbolLookup.libraryLookup(stub, Arena.global());
        Linker linker = Linker.nativeLinker();
        log = linker.downcallHandle(lookup.find("stub_log").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        clear = linker.downcallHandle(lookup.find("stub_clear").orElseThrow(), FunctionDescriptor.ofVoid());
        version = linker.downcallHandle(lookup.find("stub_version").orElseThrow(), FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
        failAllReduce = linker.downcallHandle(lookup.find("stub_fail_all_reduce").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        asyncError = linker.downcallHandle(lookup.find("stub_async_error").orElseThrow(), FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
    }

    @BeforeEach
    void needStub() throws Throwable {
        assumeTrue(stub != null, "gcc is not installed: cannot build the stub library");
        clear.invoke();
        version.invoke(22703);
        failAllReduce.invoke(-1, 0);
        asyncError.invoke(0);
    }

    private static String log() throws Throwable {
        return ((MemorySegment) log.invoke()).reinterpret(65536).getString(0);
    }

    private static Nccl stubNccl() {
        System.setProperty("cnn4j.test.stubnccl", stub.toString());
        return new Nccl(NativeLibrary.open("NCCL", "cnn4j.test.stubnccl", "CNN4J_TEST_UNSET", List.of("libnot-there.so")));
    }

    @Test
    void callsPassWhatNcclHDeclares() throws Throwable {
        try (Nccl nccl = stubNccl()) {
            assertEquals(22703, nccl.version());
            assertEquals("2.27.3", Nccl.versionText(nccl.version()));
            byte[] id = nccl.uniqueId();
            assertEquals(128, id.length);
            for (int i = 0; i < 128; i++) assertEquals((byte) (i * 3 + 1), id[i], "byte " + i + " of the id");
            id[5] = (byte) 0xEE; // the id as rank 0 sent it: the bytes travel as they are
            nccl.join(id, 4, 2);
            int hash = 0;
            for (byte b : id) hash = hash * 31 + (b & 0xFF);
            String expected = String.format("ncclCommInitRank nranks 4 rank 2 id 01 04 .. %02x hash %08x", id[127] & 0xFF, hash);
            assertTrue(log().contains(expected + "\n"), "the 128-byte id passed by value, all of it:\n" + log());

            nccl.allReduceMean(new long[] {0x1000, 0x2000}, new long[] {10, 3_000_000_000L}, 0xabc);
            nccl.broadcast(0x3000, 5, 1, 0xdef);
            nccl.checkAsync();
            String calls = log();
            assertTrue(calls.contains("ncclGroupStart\n"
                    + "ncclAllReduce send 0x1000 recv 0x1000 count 10 type 7 op 4 comm ok stream 0xabc group 1\n"
                    + "ncclAllReduce send 0x2000 recv 0x2000 count 3000000000 type 7 op 4 comm ok stream 0xabc group 1\n"
                    + "ncclGroupEnd\n"
                    + "ncclBroadcast send 0x3000 recv 0x3000 count 5 type 7 root 1 comm ok stream 0xdef\n"
                    + "ncclCommGetAsyncError\n"), "in place, float32, ncclAvg, one group, a size_t count:\n" + calls);
        }
        assertTrue(log().endsWith("ncclCommDestroy\n"), log());
    }

    @Test
    void failuresNameTheCallAndNcclsTextAndCloseTheGroup() throws Throwable {
        try (Nccl nccl = stubNccl()) {
            nccl.join(nccl.uniqueId(), 2, 0);
            failAllReduce.invoke(1, 4);
            String m = assertThrows(CudaException.class, () -> nccl.allReduceMean(new long[] {0x1000, 0x2000, 0x3000}, new long[] {1, 2, 3}, 0))
                    .getMessage();
            assertEquals("ncclAllReduce (2 floats at 0x2000) failed: invalid argument (run with NCCL_DEBUG=WARN for details) (4): stub: peer 1 is gone", m);
            assertTrue(log().endsWith("group 1\nncclGroupEnd\n"), "the third is not issued, the group is closed:\n" + log());

            asyncError.invoke(7); // ncclInProgress: not a failure
            nccl.checkAsync();
            asyncError.invoke(6);
            m = assertThrows(CudaException.class, nccl::checkAsync).getMessage();
            assertTrue(m.contains("remote process exited or there was a network error (6)"), m);
            nccl.abort();
            assertTrue(log().endsWith("ncclCommAbort\n"), log());
            m = assertThrows(IllegalStateException.class, () -> nccl.broadcast(0x1000, 1, 0, 0)).getMessage();
            assertTrue(m.contains("not in a group"), m);
        }
        assertTrue(!log().contains("ncclCommDestroy"), "an aborted communicator is not destroyed again:\n" + log());
    }

    /** What cnn4j devices prints for NCCL: its version and file, or why it cannot be used. */
    @Test
    void theBackendsDescriptionNamesNccl() throws Throwable {
        String was = System.getProperty("cnn4j.nccl");
        try {
            System.setProperty("cnn4j.nccl", stub.toString());
            assertEquals("NCCL 2.27.3: " + stub, Nccl.describe());
            version.invoke(20908);
            String old = Nccl.describe();
            assertTrue(old.startsWith("NCCL: not usable (data-parallel training on GPUs averages through the host): NCCL 2.9.8"), old);
            EmulatedGpu device = new EmulatedGpu(1L << 28);
            try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults(), device, device::dnn, device::blas)) {
                assertTrue(gpu.describe().getLast().startsWith("NCCL: not usable"), gpu.describe().toString());
            }
        } finally {
            if (was == null) System.clearProperty("cnn4j.nccl");
            else System.setProperty("cnn4j.nccl", was);
        }
    }

    @Test
    void versionsBeforeNcclAvgAreRefusedByName() throws Throwable {
        version.invoke(20908);
        String m = assertThrows(CudaException.class, NcclBindingsTest::stubNccl).getMessage();
        assertTrue(m.startsWith("NCCL 2.9.8 (" + stub + ") is older than 2.10"), m);
        assertEquals("2.7.8", Nccl.versionText(2708), "the numbering before 2.9");
    }

    /** The communicator over an emulated GPU and the stub: the tensors' device addresses and sizes, and the backend's stream. */
    @Test
    void theCommunicatorReducesTheBackendsTensorsOnItsStream() throws Throwable {
        EmulatedGpu device = new EmulatedGpu(1L << 28);
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults(), device, device::dnn, device::blas);
             NcclCommunicator nccl = new NcclCommunicator(gpu, Communicator.single(), NcclBindingsTest::stubNccl, 1 << 20)) {
            Tensor a = gpu.upload(Shape.of(3, 4), new float[12]), b = gpu.upload(Shape.of(5), new float[5]);
            nccl.allReduceMean(List.of(a, b));
            String calls = log();
            assertTrue(calls.contains("ncclCommInitRank nranks 1 rank 0 id 01 04"), calls);
            assertTrue(calls.contains(String.format("ncclAllReduce send 0x%x recv 0x%x count 12 type 7 op 4 comm ok stream 0x5ea4 group 1\n",
                    ((CudaTensor) a).address(), ((CudaTensor) a).address())), calls);
            assertTrue(calls.contains(String.format("ncclAllReduce send 0x%x recv 0x%x count 5 type 7 op 4 comm ok stream 0x5ea4 group 1\nncclGroupEnd",
                    ((CudaTensor) b).address(), ((CudaTensor) b).address())), calls);
            assertEquals(1 << 20, nccl.bucketBytes());
            assertTrue(nccl.describe().startsWith("NCCL 2.27.3 ("), nccl.describe());
            try (org.cnn4j.backend.cpu.CpuBackend cpu = new org.cnn4j.backend.cpu.CpuBackend(1); Tensor host = cpu.upload(Shape.of(1), new float[1])) {
                String m = assertThrows(IllegalArgumentException.class, () -> nccl.allReduceMean(List.of(a, host))).getMessage();
                assertTrue(m.contains("allReduceMean: tensor 1 must be a tensor of"), m);
            }
            Tensor ints = gpu.uploadInts(Shape.of(2), new int[] {1, 2});
            assertThrows(IllegalArgumentException.class, () -> nccl.allReduceMean(List.of(ints)));
            assertArrayEquals(new float[12], a.toFloatArray(), "the stub touches no memory");
        }
        assertTrue(log().endsWith("ncclCommDestroy\n"), log());
    }

    /** The job's deadline becomes the GPU's for every host wait while NCCL is joined, and is lifted when it leaves. */
    @Test
    void theJobsDeadlineGuardsTheGpusWaits() throws Exception {
        List<String> guards = new java.util.ArrayList<>();
        EmulatedGpu device = new EmulatedGpu(1L << 28) {
            @Override
            public void guardWaits(long limitNanos, DeviceWait.Expiry expiry) {
                guards.add(limitNanos + (expiry == null ? " none" : " set"));
            }
        };
        org.cnn4j.distributed.ThreadJob.run(1, job -> { // a job whose collectives have a deadline
            try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults(), device, device::dnn, device::blas)) {
                new NcclCommunicator(gpu, job, NcclBindingsTest::stubNccl, 1).close();
                try (NcclCommunicator unguarded = new NcclCommunicator(gpu, Communicator.single(), NcclBindingsTest::stubNccl, 1)) {
                    return null;
                }
            }
        });
        long limit = org.cnn4j.distributed.ThreadJob.DEADLINE.toNanos();
        assertEquals(List.of(limit + " set", "0 none"), guards, "set while joined, lifted on leaving; none for a job without a deadline");
    }

    @Test
    void aMissingLibraryIsExplainedByEveryProcess() {
        EmulatedGpu device = new EmulatedGpu(1L << 28);
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults(), device, device::dnn, device::blas)) {
            String m = assertThrows(CudaException.class, () -> new NcclCommunicator(gpu, Communicator.single(),
                    () -> new Nccl(NativeLibrary.open("NCCL", "cnn4j.test.none", "CNN4J_TEST_UNSET", List.of("libnccl-not-there.so.2"), java.util.Map.of(),
                            List.of())), 1)).getMessage();
            assertTrue(m.startsWith("rank 0: NCCL not found: tried libnccl-not-there.so.2"), m);
        }
    }
}
