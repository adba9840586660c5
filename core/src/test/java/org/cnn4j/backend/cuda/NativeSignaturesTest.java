package org.cnn4j.backend.cuda;

import static java.util.Map.entry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU bindings against the real headers, on any machine with gcc: every C function that
 * {@link Cudnn}, {@link Cublas} and {@link Nccl} bind is called through a descriptor with the
 * header's types as the x86-64 calling convention passes them (an int where the header has a
 * size_t would read garbage in the upper half only on the real library), every enumeration value
 * they pass or compare with is the header's, and the structs they read or pass by value have the
 * header's size and field offsets. The table, {@code native-signatures.txt}, is written from the
 * headers (cuDNN 9, cuBLAS, NCCL) by {@code scripts/native-signatures}; the bindings are opened on
 * the stub libraries, whose own signatures do not matter here.
 */
class NativeSignaturesTest {
    @TempDir
    static Path dir;
    private static Path stub, ncclStub;
    private static Table table;

    /** The header facts: function name → "ret (args)", constant name → value, struct name → [size, offset...]. */
    record Table(Map<String, String> functions, Map<String, Long> values, Map<String, List<Long>> layouts) {
    }

    @BeforeAll
    static void openTheBindingsOnTheStubs() throws Throwable {
        table = read();
        stub = StubLibrary.build(dir, "stub_libraries.c", "libstub.so");
        ncclStub = StubLibrary.build(dir, "stub_nccl.c", "libstubnccl.so");
        if (stub == null || ncclStub == null) return;
        Linker.nativeLinker().downcallHandle(SymbolLookup.libraryLookup(ncclStub, Arena.global()).find("stub_version").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT)).invoke(22703);
        try (Cudnn cudnn = new Cudnn(open("cuDNN", stub)); Cublas cublas = new Cublas(open("cuBLAS", stub))) {
            assertNotNull(cudnn.library());
            assertNotNull(cublas.library());
        }
        new Nccl(open("NCCL", ncclStub));
    }

    private static NativeLibrary open(String what, Path file) {
        String property = "cnn4j.test.signatures." + what;
        System.setProperty(property, file.toString());
        return NativeLibrary.open(what, property, "CNN4J_TEST_UNSET", List.of("libnot-there.so"));
    }

    private static Table read() throws IOException {
        Map<String, String> functions = new TreeMap<>();
        Map<String, Long> values = new TreeMap<>();
        Map<String, List<Long>> layouts = new TreeMap<>();
        try (InputStream in = NativeSignaturesTest.class.getResourceAsStream("native-signatures.txt")) {
            assertNotNull(in, "native-signatures.txt is among the test resources");
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) continue;
                String[] w = line.trim().split(" ", 3);
                switch (w[0]) {
                    case "function" -> functions.put(w[1], w[2]);
                    case "value" -> values.put(w[1], Long.parseLong(w[2]));
                    case "layout" -> {
                        String[] rest = w[2].split(" ");
                        List<Long> numbers = new ArrayList<>(List.of(Long.parseLong(rest[0])));
                        for (int i = 2; i < rest.length; i += 2) numbers.add(Long.parseLong(rest[i]));
                        layouts.put(w[1], numbers);
                    }
                    default -> throw new AssertionError("native-signatures.txt: unknown line '" + line + "'");
                }
            }
        }
        return new Table(functions, values, layouts);
    }

    /** A layout as the x86-64 calling convention sees it, in the table's words. */
    static String abi(MemoryLayout layout) {
        return switch (layout) {
            case ValueLayout.OfInt i -> "i32";
            case ValueLayout.OfLong l -> "i64";
            case ValueLayout.OfFloat f -> "f32";
            case ValueLayout.OfDouble d -> "f64";
            case ValueLayout.OfShort s -> "i16";
            case ValueLayout.OfChar c -> "i16";
            case ValueLayout.OfByte b -> "i8";
            case ValueLayout.OfBoolean b -> "i8";
            case AddressLayout a -> "ptr";
            case StructLayout s -> "struct" + s.byteSize();
            default -> "unsupported " + layout;
        };
    }

    static String signature(FunctionDescriptor d) {
        return d.returnLayout().map(NativeSignaturesTest::abi).orElse("void") + " ("
                + d.argumentLayouts().stream().map(NativeSignaturesTest::abi).collect(Collectors.joining(", ")) + ")";
    }

    @Test
    void everyBoundFunctionHasTheHeadersSignature() {
        assumeTrue(stub != null && ncclStub != null, "gcc is not installed: cannot build the stub libraries");
        Map<String, FunctionDescriptor> declared = NativeLibrary.declared();
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, String> f : table.functions().entrySet()) {
            FunctionDescriptor d = declared.get(f.getKey());
            if (d == null) wrong.add(f.getKey() + ": in the table but not bound by the constructors");
            else if (!signature(d).equals(f.getValue())) wrong.add(f.getKey() + ": the header has " + f.getValue() + ", the binding " + signature(d));
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void theTableCoversEveryFunctionTheBindingsName() throws IOException {
        Path sources = Path.of("src/main/java/org/cnn4j/backend/cuda");
        assumeTrue(Files.isDirectory(sources), "the sources are not here (a bundle): the table was checked where they are");
        Pattern call = Pattern.compile("(?:optionalFunction|function)\\(\"(\\w+)\"");
        TreeSet<String> named = new TreeSet<>();
        for (String file : List.of("Cudnn.java", "Cublas.java", "Nccl.java")) {
            Matcher m = call.matcher(Files.readString(sources.resolve(file)));
            while (m.find()) named.add(m.group(1));
        }
        assertEquals(named, table.functions().keySet(), "a function bound since the table was written: run scripts/native-signatures with the headers");
    }

    @Test
    void enumerationValuesAreTheHeaders() {
        Map<String, Long> ours = new TreeMap<>(Map.ofEntries(
                entry("CUDNN_DATA_FLOAT", (long) Cudnn.FLOAT),
                entry("CUDNN_TENSOR_NCHW", (long) Dnn.Layout.NCHW.format),
                entry("CUDNN_TENSOR_NHWC", (long) Dnn.Layout.NHWC.format),
                entry("CUDNN_CROSS_CORRELATION", (long) Cudnn.CROSS_CORRELATION),
                entry("CUDNN_SOFTMAX_ACCURATE", (long) Cudnn.SOFTMAX_ACCURATE),
                entry("CUDNN_SOFTMAX_MODE_INSTANCE", (long) Cudnn.SOFTMAX_MODE_INSTANCE),
                entry("CUDNN_ACTIVATION_RELU", (long) Cudnn.ACTIVATION_RELU),
                entry("CUDNN_PROPAGATE_NAN", (long) Cudnn.PROPAGATE_NAN),
                entry("CUDNN_DEFAULT_MATH", (long) Dnn.DEFAULT_MATH),
                entry("CUDNN_FMA_MATH", (long) Dnn.FMA_MATH),
                entry("CUDNN_DETERMINISTIC", (long) Cudnn.DETERMINISTIC),
                entry("CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED", (long) Cudnn.INTERNAL_ERROR_HOST_ALLOCATION_FAILED),
                entry("CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED", (long) Cudnn.INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED),
                entry("CUBLAS_OP_N", (long) Cublas.OP_N),
                entry("CUBLAS_OP_T", (long) Cublas.OP_T),
                entry("CUBLAS_DEFAULT_MATH", (long) Cublas.DEFAULT_MATH),
                entry("ncclFloat32", (long) Nccl.FLOAT32),
                entry("ncclAvg", (long) Nccl.AVG),
                entry("ncclInProgress", (long) Nccl.IN_PROGRESS),
                entry("NCCL_UNIQUE_ID_BYTES", (long) Nccl.UNIQUE_ID_BYTES)));
        for (Dnn.Direction d : Dnn.Direction.values()) { // the names the log and the messages give to the algorithms' numbers
            for (int algo = 0; algo < d.algorithmCount(); algo++) ours.put(d.algorithm(algo), (long) algo);
        }
        assertEquals(ours, table.values());
    }

    @Test
    void theStructsReadAndPassedHaveTheHeadersLayout() {
        List<Long> perf = List.of(Cudnn.PERF_SIZE, Cudnn.PERF_ALGO, Cudnn.PERF_STATUS, Cudnn.PERF_TIME, Cudnn.PERF_MEMORY, Cudnn.PERF_DETERMINISM,
                Cudnn.PERF_MATH);
        for (String direction : List.of("Fwd", "BwdData", "BwdFilter")) {
            assertEquals(perf, table.layouts().get("cudnnConvolution" + direction + "AlgoPerf_t"),
                    "size, algo, status, time, memory, determinism, mathType");
        }
        assertEquals(List.of((long) Nccl.UNIQUE_ID_BYTES), table.layouts().get("ncclUniqueId"));
        assertEquals(4, table.layouts().size());
    }

    @Test
    void descriptorsAreWrittenInTheTablesWords() {
        assertEquals("i32 (ptr, ptr, i64)", signature(FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG)));
        assertEquals("void (struct128, f64, f32)", signature(FunctionDescriptor.ofVoid(
                MemoryLayout.structLayout(MemoryLayout.sequenceLayout(128, ValueLayout.JAVA_BYTE)), ValueLayout.JAVA_DOUBLE, ValueLayout.JAVA_FLOAT)));
        assertEquals("i64 ()", signature(FunctionDescriptor.of(ValueLayout.JAVA_LONG)));
    }
}
