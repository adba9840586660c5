package org.cnn4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.cnn4j.backend.Backend;
import org.cnn4j.io.ModelFile;
import org.cnn4j.model.Folding;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;

/** A model named on the command line: a model or checkpoint file, an ONNX file, or a built-in name. */
final class ModelSource {
    private ModelSource() {
    }

    /** A cnn4j model file or checkpoint, or an ONNX file (by its name's ending .onnx), with its data description. */
    static ModelFile.Loaded load(Path file, Backend backend) throws IOException {
        return org.cnn4j.onnx.OnnxImport.loadAny(file, backend);
    }

    static Model open(String nameOrFile, Backend backend, long seed) throws IOException {
        Path file = Path.of(nameOrFile);
        if (Files.exists(file)) return load(file, backend).model();
        requireKnown(nameOrFile);
        return Models.byName(nameOrFile).seed(seed).build(backend);
    }

    /** Refuses a name that is not a built-in model (the caller found no file of that name): a model file's name (.safetensors, .onnx) as no such file. */
    static void requireKnown(String nameOrFile) throws java.nio.file.NoSuchFileException {
        String lower = nameOrFile.toLowerCase(java.util.Locale.ROOT);
        if (lower.endsWith(".safetensors") || lower.endsWith(".onnx")) throw new java.nio.file.NoSuchFileException(nameOrFile, null, "no such model file");
        Models.byName(nameOrFile);
    }

    /**
     * With {@code fold}, the model with each batch normalisation folded into the convolution or
     * dense layer before it (exact to float rounding, for inference), the given one closed; else the given one.
     */
    static Model folded(Model model, boolean fold) {
        if (!fold) return model;
        try (model) {
            return Folding.foldBatchNorms(model);
        }
    }
}
