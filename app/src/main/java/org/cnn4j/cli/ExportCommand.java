package org.cnn4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.io.ModelFile;
import org.cnn4j.model.Model;
import org.cnn4j.onnx.OnnxExport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Writes a model as an ONNX file (opset " + OnnxExport.OPSET + ") for ONNX Runtime, TensorRT and the other frameworks: "
                + "input 'input' (batch, c, h, w), output the logits; class names and normalisation in its metadata (cnn4j.data).")
final class ExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A model file, or a built-in model (its initial weights).")
    String model;

    @Option(names = "--onnx", required = true, paramLabel = "FILE", description = "The ONNX file to write.")
    Path onnx;

    @Override
    public Integer call() throws Exception {
        Path dir = onnx.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) throw new Checks.BadOption("--onnx: no folder " + dir);
        try (CpuBackend cpu = new CpuBackend(1)) {
            Path file = Path.of(model);
            ModelFile.Loaded loaded = Files.exists(file) ? ModelSource.load(file, cpu) : null;
            DataInfo data = loaded == null ? null : loaded.data();
            try (Model m = loaded != null ? loaded.model() : ModelSource.open(model, cpu, 0)) {
                OnnxExport.write(onnx, m, data);
                System.out.println("wrote " + onnx + ": " + m.layers().size() + " layers, opset " + OnnxExport.OPSET);
            }
        }
        return 0;
    }
}
