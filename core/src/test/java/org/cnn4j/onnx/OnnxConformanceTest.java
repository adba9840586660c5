package org.cnn4j.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import ai.onnx.proto.OnnxMl;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.layer.Pass;
import org.cnn4j.model.Model;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.api.Test;

/**
 * The ONNX project's operator conformance tests (Debian's {@code libonnx-testdata}, which CI
 * installs) for the operators the importer reads: each test's model imported with its first input
 * as the image input and its other inputs as constants, run on its inputs, compared with its
 * expected output as ONNX's backend tests compare (|a − b| ≤ 1e-7 + 1e-3·|b|). A test the importer
 * refuses (an attribute, a rank or a data type cnn4j lacks) counts as unsupported with the reason;
 * none may fail. The table goes to {@code target/onnx-conformance.txt}.
 */
class OnnxConformanceTest {
    private static final Path NODE_TESTS = Path.of("/usr/share/libonnx-testdata/data/node");
    private static final Set<String> OPERATORS = Set.of("Conv", "Gemm", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax",
            "MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape", "Constant", "Pad", "Add", "Concat", "Identity", "Dropout",
            "LogSoftmax");

    @Test
    void everySupportedOperatorTestPasses() throws IOException {
        assumeTrue(Files.isDirectory(NODE_TESTS), "libonnx-testdata is not installed");
        Map<String, String> results = new TreeMap<>();
        List<Path> tests;
        try (Stream<Path> s = Files.list(NODE_TESTS)) {
            tests = s.filter(Files::isDirectory).sorted().toList();
        }
        for (Path test : tests) {
            OnnxMl.ModelProto model = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(test.resolve("model.onnx")));
            List<String> ops = model.getGraph().getNodeList().stream().map(OnnxMl.NodeProto::getOpType).distinct().toList();
            if (!OPERATORS.containsAll(ops)) continue; // another operator: not one cnn4j reads
            results.put(test.getFileName().toString(), run(test, model));
        }
        StringBuilder table = new StringBuilder("test\tresult\n");
        int passed = 0, failed = 0, unsupported = 0;
        for (Map.Entry<String, String> r : results.entrySet()) {
            table.append(r.getKey()).append('\t').append(r.getValue()).append('\n');
            if (r.getValue().equals("passed")) passed++;
            else if (r.getValue().startsWith("failed")) failed++;
            else unsupported++;
        }
        table.append(String.format("%d tests of the operators read: %d passed, %d failed, %d unsupported%n", results.size(), passed, failed, unsupported));
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target/onnx-conformance.txt"), table);
        assertEquals(0, failed, table.toString());
        assertTrue(passed >= 20, table.toString());
    }

    private static String run(Path test, OnnxMl.ModelProto model) throws IOException {
        Path data = test.resolve("test_data_set_0");
        List<OnnxMl.TensorProto> inputs = new ArrayList<>();
        for (int i = 0; Files.exists(data.resolve("input_" + i + ".pb")); i++) {
            inputs.add(OnnxMl.TensorProto.parseFrom(Files.readAllBytes(data.resolve("input_" + i + ".pb"))));
        }
        OnnxMl.TensorProto expected = OnnxMl.TensorProto.parseFrom(Files.readAllBytes(data.resolve("output_0.pb")));
        List<String> names = model.getGraph().getInputList().stream().map(OnnxMl.ValueInfoProto::getName)
                .filter(n -> model.getGraph().getInitializerList().stream().noneMatch(t -> t.getName().equals(n))).toList();
        if (inputs.isEmpty() || names.size() != inputs.size()) return "unsupported: " + names.size() + " inputs, " + inputs.size() + " given";
        Map<String, OnnxMl.TensorProto> constants = new HashMap<>();
        for (int i = 1; i < names.size(); i++) constants.put(names.get(i), inputs.get(i));
        OnnxImport.Imported imported;
        try {
            imported = OnnxImport.read(test.resolve("model.onnx"), model, constants, Backends.CPU);
        } catch (FileFormatException e) {
            return "unsupported: " + e.getMessage().substring(e.getMessage().indexOf(": ") + 2);
        }
        try (Model m = imported.model()) {
            float[] x = floats(inputs.getFirst()), want = floats(expected);
            int n = (int) inputs.getFirst().getDims(0);
            if ((long) n * m.inputShape().size() != x.length) return "failed: the input holds " + x.length + " values, not " + n + " × " + m.inputShape();
            Tensor in = m.backend().upload(m.inputShape().batch(n), x);
            float[] got = m.forward(in, Pass.INFERENCE).toFloatArray();
            in.close();
            if (got.length != want.length) return "failed: " + got.length + " outputs, expected " + want.length;
            for (int i = 0; i < got.length; i++) {
                if (!(Math.abs(got[i] - want[i]) <= 1e-7 + 1e-3 * Math.abs(want[i]))) return "failed: output " + i + " is " + got[i] + ", expected " + want[i];
            }
            return "passed";
        }
    }

    private static float[] floats(OnnxMl.TensorProto t) {
        if (t.getDataType() != OnnxMl.TensorProto.DataType.FLOAT.getNumber()) throw new IllegalArgumentException("not float: " + t.getDataType());
        if (!t.getRawData().isEmpty()) {
            float[] v = new float[t.getRawData().size() / 4];
            t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            return v;
        }
        float[] v = new float[t.getFloatDataCount()];
        for (int i = 0; i < v.length; i++) v[i] = t.getFloatData(i);
        return v;
    }
}
