package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.tensor.Shape;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The foreign-function bindings to cuDNN and cuBLAS, checked on any machine with a C compiler: a
 * stub library (test resource stub_libraries.c, with cuDNN 9's and cuBLAS's signatures and
 * cuDNN's perf-result struct as the headers declare it) logs every argument it receives, and the
 * tests compare that log with what the bindings meant to pass: handles, descriptors, enum values,
 * alpha/beta by pointer, the algorithm choice from the perf structs, the column-major GEMM call,
 * and the error texts. On a GPU the same code runs against the real libraries (CudaBackendTest).
 */
class CudaBindingsTest {
    @TempDir
    static Path dir;
    private static Path stub;
    private static MethodHandle log, clear, failFinds;

    @BeforeAll
    static void buildStub() throws IOException, InterruptedException {
        stub = StubLibrary.build(dir, "stub_libraries.c", "libstub.so");
        if (stub == null) return;
        SymbolLookup lookup = SymbolLookup.libraryLookup(stub, Arena.global());
        Linker linker = Linker.nativeLinker();
        log = linker.downcallHandle(lookup.find("stub_log").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        clear = linker.downcallHandle(lookup.find("stub_clear").orElseThrow(), FunctionDescriptor.ofVoid());
        failFinds = linker.downcallHandle(lookup.find("stub_fail_finds").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    @BeforeEach
    void needStub() throws Throwable {
        assumeTrue(stub != null, "gcc is not installed: cannot build the stub library");
        clear.invoke();
    }

    private static String log() throws Throwable {
        return ((MemorySegment) log.invoke()).reinterpret(65536).getString(0);
    }

    private static NativeLibrary stubAs(String what) {
        System.setProperty("cnn4j.test.stub", stub.toString());
        return NativeLibrary.open(what, "cnn4j.test.stub", "CNN4J_TEST_UNSET", List.of("libnot-there.so"));
    }

    @Test
    void cudnnCallsPassWhatTheHeadersDeclare() throws Throwable {
        ConvGeometry g = ConvGeometry.square(3, 8, 8, 4, 3, 1, 2, 1);
        try (Cudnn cudnn = new Cudnn(stubAs("cuDNN"))) {
            assertEquals(91400, cudnn.version());
            cudnn.useStream(0xabc0);
            Cudnn.Choice fastest = cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.DEFAULT_MATH, 1L << 30, false);
            assertEquals(new Cudnn.Choice(7, 1, 2048), fastest,
                    "of those that fit the workspace limit, the fastest (5, 4096 B) or, as here, one within 5% of it with less workspace;"
                    + " not algorithm 2 (1024 B), 25% slower");
            assertEquals(new Cudnn.Choice(2, 0, 1024), cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.DEFAULT_MATH, 1024, false),
                    "under a tighter limit, the fastest that fits");
            Cudnn.Choice deterministic = cudnn.choose(g, 2, Cudnn.Direction.BACKWARD_FILTER, Cudnn.FMA_MATH, 1L << 30, true);
            assertEquals(new Cudnn.Choice(6, 3, 8192), deterministic, "the fastest deterministic one");
            String none = assertThrows(CudaException.class,
                    () -> cudnn.choose(g, 2, Cudnn.Direction.BACKWARD_DATA, Cudnn.DEFAULT_MATH, 0, false)).getMessage();
            assertTrue(none.contains("fits a workspace of 0 bytes") && none.contains("measured: [1/1099511627776B/det/math1, 5/4096B/math1, 7/2048B/math1, 2/1024B/math0, 6/8192B/det]"), none);

            cudnn.convolutionForward(g, 2, fastest, 0x1000, 0x2000, 0x3000, 0x4000);
            cudnn.convolutionBiasReluForward(g, 2, fastest, 0x1000, 0x2000, 0x7000, 0x3000, 0x4000);
            cudnn.convolutionBiasReluForward(g, 2, fastest, 0x1000, 0x2000, 0x7000, 0x3000, 0x4000);
            cudnn.convolutionBackwardFilter(g, 2, deterministic, 0x1000, 0x5000, 0x6000, 0x4000);
            cudnn.addBias(Shape.of(2, 4, 4, 4), 0x3000, 4, 0x7000);
            cudnn.biasBackward(Shape.of(2, 4, 4, 4), 0x5000, 4, 0x8000);
            cudnn.softmaxForward(Shape.of(2, 10), 0x9000, 0xa000);
            String calls = log();
            for (String expected : List.of("cudnnCreate", "cudnnSetStream 0xabc0",
                    "format 0 type 0 2 3 8 8", "type 0 format 0 4 3 3 3", "format 0 type 0 2 4 4 4",
                    "pad 1 1 stride 2 2 dilation 1 1 mode 1 type 0", "findForward requested 16", "findBackwardFilter requested 16",
                    "convForward alpha 1 in 0x1000 0x2000 algo 7 workspace 0x4000 2048 beta 0 out 0x3000",
                    "mode 1 nan 1 coef 0",
                    "convBiasActivation alpha1 1 in 0x1000 0x2000 algo 7 workspace 0x4000 2048 alpha2 0 z 0x3000 bias 0x7000 activation 0x",
                    "convBackwardFilter alpha 1 in 0x1000 0x5000 algo 6 workspace 0x4000 8192 beta 1 out 0x6000",
                    "addTensor alpha 1 a 0x7000 beta 1 c 0x3000", "convBackwardBias alpha 1 dy 0x5000 beta 1 db 0x8000",
                    "softmaxForward algo 1 mode 0 alpha 1 x 0x9000 beta 0 y 0xa000", "format 0 type 0 2 10 1 1")) {
                assertTrue(calls.contains(expected), "expected «" + expected + "» in:\n" + calls);
            }
            assertTrue(calls.matches("(?s).*createActivation (0x[0-9a-f]+)\n.*setActivation \\1 mode 1 nan 1 coef 0\n.*activation \\1 out 0x3000\n.*"),
                    "the ReLU descriptor is made, set and passed:\n" + calls);
            // The execution descriptor carries the chosen algorithm's math type.
            assertTrue(calls.matches("(?s).*setMath 0x[0-9a-f]+ 1.*") && calls.matches("(?s).*setMath 0x[0-9a-f]+ 3.*"), calls);
            String error = assertThrows(CudaException.class, () -> cudnn.tensor(Shape.of(999, 1, 1, 1))).getMessage();
            assertTrue(error.contains("cudnnSetTensor4dDescriptor ((999, 1, 1, 1)) failed: CUDNN_STATUS_BAD_PARAM (2000)"), error);
        }
        assertTrue(log().contains("cudnnDestroy\n") && !log().contains("BAD HANDLE"), log());
        assertEquals(1, log().split("createActivation", -1).length - 1, "one ReLU descriptor, made once and kept");
        assertTrue(log().contains("destroyActivation"), log());
    }

    @Test
    void strictFloat32TakesOnlyAnAlgorithmThatReportsFmaMath() throws Throwable {
        ConvGeometry g = ConvGeometry.square(3, 8, 8, 4, 3, 1, 2, 1);
        try (Cudnn cudnn = new Cudnn(stubAs("cuDNN"))) {
            // The stub's results: 5 and 7 (fast, little workspace) report tensor-core math, 2 default math, 6 FMA.
            assertEquals(new Cudnn.Choice(6, 3, 8192), cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.FMA_MATH, 1L << 30, false),
                    "strict float32: the only result with CUDNN_FMA_MATH, though slower");
            assertEquals(new Cudnn.Choice(7, 1, 2048), cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.DEFAULT_MATH, 1L << 30, false),
                    "TF32 allowed: the fast one");
            String refused = assertThrows(CudaException.class,
                    () -> cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.FMA_MATH, 4096, false)).getMessage();
            assertTrue(refused.contains("in strict float32 (FMA math)") && refused.contains("5/4096B/math1"), refused);
            assertEquals(2, log().split("findForward", -1).length - 1, "one search per shape and math type (FMA, default), whatever the limits");

            assertEquals(new Cudnn.Choice(4, 3, 0), cudnn.chooseWithoutSearch(g, 2, Cudnn.Direction.BACKWARD_DATA, Cudnn.FMA_MATH, false),
                    "without search, strict: the heuristics' first FMA one without workspace");
            assertEquals(new Cudnn.Choice(0, 1, 0), cudnn.chooseWithoutSearch(g, 2, Cudnn.Direction.BACKWARD_DATA, Cudnn.DEFAULT_MATH, false));
            assertEquals(new Cudnn.Choice(4, 3, 0), cudnn.chooseWithoutSearch(g, 2, Cudnn.Direction.BACKWARD_FILTER, Cudnn.DEFAULT_MATH, true));
            assertTrue(log().contains("heuristicBackwardData requested 16") && log().contains("heuristicBackwardFilter requested 16"), log());
        }
    }

    @Test
    void aSearchThatCannotAllocateSaysSoAndOtherFailuresStayErrors() throws Throwable {
        ConvGeometry g = ConvGeometry.square(3, 8, 8, 4, 3, 1, 2, 1);
        try (Cudnn cudnn = new Cudnn(stubAs("cuDNN"))) {
            failFinds.invoke(1, 4004); // CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED
            Dnn.SearchOutOfMemory oom = assertThrows(Dnn.SearchOutOfMemory.class,
                    () -> cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.DEFAULT_MATH, 1L << 30, false));
            assertTrue(oom.getMessage().contains("cudnnFindConvolutionForwardAlgorithm") && oom.getMessage().contains("4004"), oom.getMessage());
            assertEquals(new Cudnn.Choice(7, 1, 2048), cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.DEFAULT_MATH, 1L << 30, false),
                    "the retry searches again: a failed search is not cached");
            failFinds.invoke(1, 4003); // CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED
            assertThrows(Dnn.SearchOutOfMemory.class, () -> cudnn.choose(g, 2, Cudnn.Direction.BACKWARD_DATA, Cudnn.DEFAULT_MATH, 1L << 30, false));
            failFinds.invoke(1, 2000);
            CudaException bad = assertThrows(CudaException.class,
                    () -> cudnn.choose(g, 2, Cudnn.Direction.BACKWARD_FILTER, Cudnn.DEFAULT_MATH, 1L << 30, false));
            assertTrue(bad.getMessage().contains("CUDNN_STATUS_BAD_PARAM"), bad.getMessage());
        } finally {
            failFinds.invoke(0, 0);
        }
    }

    @Test
    void nhwcDescriptorsCarryTheNhwcFormat() throws Throwable {
        ConvGeometry g = ConvGeometry.square(3, 8, 8, 4, 3, 1, 2, 1);
        try (Cudnn cudnn = new Cudnn(stubAs("cuDNN"), Dnn.Layout.NHWC)) {
            Cudnn.Choice c = cudnn.choose(g, 2, Cudnn.Direction.FORWARD, Cudnn.DEFAULT_MATH, 1L << 30, false);
            cudnn.convolutionForward(g, 2, c, 0x1000, 0x2000, 0x3000, 0x4000);
            String calls = log();
            // cudnnTensorFormat_t: CUDNN_TENSOR_NHWC = 1, for the tensors (n, c, h, w) and the filter (k, c, r, s) alike.
            for (String expected : List.of("format 1 type 0 2 3 8 8", "type 0 format 1 4 3 3 3", "format 1 type 0 2 4 4 4")) {
                assertTrue(calls.contains(expected), "expected «" + expected + "» in:\n" + calls);
            }
            assertFalse(calls.contains("format 0"), calls);
        }
    }

    @Test
    void cublasGemmIsTheTransposedColumnMajorCall() throws Throwable {
        try (Cublas cublas = new Cublas(stubAs("cuBLAS"))) {
            cublas.useStream(0xdef0, 0x7700, 4 << 20);
            assertEquals(130100, cublas.version());
            assertEquals("13.1.0", CudaBackend.versionText(cublas.version(), 10000));
            // Row-major C (2x3) = A (2x4) * B^T, B stored 3x4.
            cublas.gemm(false, true, 2, 3, 4, 0.5f, 0x10, 4, 0x20, 4, 0.25f, 0x30);
            cublas.gemm(true, false, 5, 6, 7, 1f, 0x40, 5, 0x50, 6, 0f, 0x60);
            String calls = log();
            assertTrue(calls.contains("cublasSetMathMode 0") && calls.contains("cublasSetStream 0xdef0\ncublasSetWorkspace 0x7700 4194304"), calls);
            assertTrue(calls.contains("sgemm 1 0 m 3 n 2 k 4 alpha 0.5 A 0x20 lda 4 B 0x10 ldb 4 beta 0.25 C 0x30 ldc 3"), calls);
            assertTrue(calls.contains("sgemm 0 1 m 6 n 5 k 7 alpha 1 A 0x50 lda 6 B 0x40 ldb 5 beta 0 C 0x60 ldc 6"), calls);
            String error = assertThrows(CudaException.class, () -> cublas.gemm(false, false, 0, 1, 1, 1f, 1, 1, 1, 1, 0f, 1)).getMessage();
            assertTrue(error.contains("cublasSgemm_v2") && error.contains("CUBLAS_STATUS_INVALID_VALUE (7)"), error);
        }
        assertTrue(log().contains("cublasDestroy"), log());
    }

    @Test
    void aMissingLibraryOrFunctionSaysWhatWasTried() {
        String m = assertThrows(CudaException.class,
                () -> NativeLibrary.open("cuDNN", "cnn4j.test.none", "CNN4J_TEST_NONE", List.of("libcudnn-not-here.so.9"))).getMessage();
        assertTrue(m.startsWith("cuDNN not found: tried libcudnn-not-here.so.9 (loader search") && m.contains("/usr/local/cuda")
                && m.contains("-Dcnn4j.test.none="), m);
        String f = assertThrows(CudaException.class, () -> stubAs("cuDNN").function("cudnnNoSuchThing", FunctionDescriptor.ofVoid())).getMessage();
        assertTrue(f.contains("has no function cudnnNoSuchThing"), f);
    }

    /** A Python environment at {@code prefix} with the stub as NVIDIA's cuDNN wheel installs it, and its sub-libraries beside it. */
    private static Path wheel(Path prefix, List<String> parts) throws IOException {
        Path lib = Files.createDirectories(prefix.resolve("lib/python3.12/site-packages/nvidia/cudnn/lib"));
        Files.copy(stub, lib.resolve("libcnn4jtest_cudnn.so.9"));
        for (String part : parts) Files.copy(stub, lib.resolve(part));
        Path bin = Files.createDirectories(prefix.resolve("bin"));
        Path python = Files.writeString(bin.resolve("python3"), "#!/bin/sh\n");
        python.toFile().setExecutable(true);
        return lib;
    }

    @Test
    void cudnnLaidOutAsAPythonWheelIsFoundWithItsSubLibraries() throws IOException {
        List<String> parts = List.of("libcnn4jtest_cudnn_graph.so.9", "libcnn4jtest_cudnn_ops.so.9", "libcnn4jtest_cudnn_cnn.so.9");
        Map<String, List<String>> companions = Map.of("libcnn4jtest_cudnn.so.9", parts);
        Path home = Files.createDirectories(dir.resolve("home"));

        Path venv = dir.resolve("venv"), lib = wheel(venv, parts);
        List<Path> onPath = NativeLibrary.wheelFolders(Map.of("PATH", "/nowhere:" + venv.resolve("bin")), home);
        assertTrue(onPath.contains(lib), "the python3 on PATH leads to its wheels: " + onPath);
        NativeLibrary found = NativeLibrary.open("cuDNN", "cnn4j.test.none", "CNN4J_TEST_NONE", List.of("libcnn4jtest_cudnn.so.9"), companions, onPath);
        assertEquals(lib.resolve("libcnn4jtest_cudnn.so.9"), found.file());
        try (Cudnn cudnn = new Cudnn(found)) {
            assertEquals(91400, cudnn.version(), "and it works through the bindings");
        }
        for (String part : parts) {
            assertTrue(NativeLibrary.mapped(part).isPresent(), part + " is loaded, from the same folder");
            assertEquals(lib.resolve(part), NativeLibrary.mapped(part).orElseThrow());
        }

        Path conda = dir.resolve("conda"), condaLib = wheel(conda, parts);
        assertTrue(NativeLibrary.wheelFolders(Map.of("CONDA_PREFIX", conda.toString()), home).contains(condaLib));
        assertTrue(NativeLibrary.wheelFolders(Map.of("VIRTUAL_ENV", venv.toString()), home).contains(lib));
        Path user = wheel(home.resolve(".local"), parts);
        assertTrue(NativeLibrary.wheelFolders(Map.of(), home).contains(user), "the user's own pip install --user");

        Path broken = dir.resolve("broken"), brokenLib = wheel(broken, parts);
        Files.delete(brokenLib.resolve("libcnn4jtest_cudnn_cnn.so.9"));
        String m = assertThrows(CudaException.class, () -> NativeLibrary.open("cuDNN", "cnn4j.test.none", "CNN4J_TEST_NONE",
                List.of("libcnn4jtest_cudnn.so.9"), companions, List.of(brokenLib))).getMessage();
        assertTrue(m.contains(brokenLib.resolve("libcnn4jtest_cudnn.so.9") + " (its companions [libcnn4jtest_cudnn_cnn.so.9] are not beside it)"), m);
        assertTrue(m.contains("and the Python wheels' [" + brokenLib + "]"), m);
    }

    @Test
    void cublasOfCuda13WheelsIsFoundInTheSharedCu13Folder() throws IOException {
        // CUDA 13's wheels (nvidia-cublas 13, nvidia-cuda-runtime 13, ...) share nvidia/cu13/lib; cuDNN
        // and NCCL keep folders of their own (nvidia/cudnn/lib, nvidia/nccl/lib), as PyTorch 2.9+ installs them.
        Path venv = dir.resolve("cu13-venv");
        Path site = venv.resolve("lib/python3.12/site-packages/nvidia");
        Path cu13 = Files.createDirectories(site.resolve("cu13/lib"));
        Path nccl = Files.createDirectories(site.resolve("nccl/lib"));
        Files.copy(stub, cu13.resolve("libcnn4jtest_cublas.so.13"));
        Files.copy(stub, cu13.resolve("libcnn4jtest_cublasLt.so.13"));
        Files.copy(stub, nccl.resolve("libcnn4jtest_nccl.so.2"));
        List<Path> folders = NativeLibrary.wheelFolders(Map.of("VIRTUAL_ENV", venv.toString()), dir.resolve("nohome"));
        assertEquals(List.of(cu13, nccl), folders.subList(0, Math.min(2, folders.size())),
                "each nvidia/<package>/lib, whatever the package's name, this environment's first: " + folders);

        NativeLibrary cublas = NativeLibrary.open("cuBLAS", "cnn4j.test.none", "CNN4J_TEST_NONE", List.of("libcnn4jtest_cublas.so.13"),
                Map.of("libcnn4jtest_cublas.so.13", List.of("libcnn4jtest_cublasLt.so.13")), folders);
        assertEquals(cu13.resolve("libcnn4jtest_cublas.so.13"), cublas.file());
        assertEquals(cu13.resolve("libcnn4jtest_cublasLt.so.13"), NativeLibrary.mapped("libcnn4jtest_cublasLt.so.13").orElseThrow(),
                "its libcublasLt from the same folder");
        assertEquals(nccl.resolve("libcnn4jtest_nccl.so.2"),
                NativeLibrary.open("NCCL", "cnn4j.test.none", "CNN4J_TEST_NONE", List.of("libcnn4jtest_nccl.so.2"), Map.of(), folders).file());
    }

    @Test
    void theRealCudnnAndCublasSearchesKnowTheirCompanions() {
        assertEquals(List.of("libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_heuristic.so.9", "libcudnn_ops.so.9",
                "libcudnn_cnn.so.9"), CudaBackend.CUDNN9_PARTS);
        assertEquals("9.14.0", CudaBackend.versionText(91400, 10000));
        assertEquals("8.9.2", CudaBackend.versionText(8902, 1000));
    }
}
