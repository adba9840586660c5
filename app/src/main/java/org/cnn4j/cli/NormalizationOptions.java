package org.cnn4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.io.ModelFile;
import picocli.CommandLine.Option;

/**
 * {@code --mean} and {@code --std}, the inputs' normalisation, and {@code --class-names}, for a model
 * file that has none of its own (an ONNX file from elsewhere).
 */
final class NormalizationOptions {
    /** The largest class-name file read. */
    static final long MAX_CLASS_FILE = 16 << 20;

    @Option(names = "--mean", split = ",", paramLabel = "M", description = "Per-channel means of the pixels in [0, 1] that the model's inputs "
            + "had subtracted, e.g. 0.485,0.456,0.406 (with --std; default: the model file's own normalisation).")
    double[] mean;

    @Option(names = "--std", split = ",", paramLabel = "S", description = "Per-channel standard deviations they were divided by, e.g. 0.229,0.224,0.225.")
    double[] std;

    @Option(names = "--class-names", paramLabel = "FILE", description = "A text file of the model's class names, one a line in the order "
            + "of its outputs, for a model file that names none (an ONNX file from elsewhere: its classes are otherwise 0, 1, ...).")
    Path classNames;

    /** Checks the options' values (see {@link Checks}). */
    void check() {
        if (classNames != null) {
            if (!java.nio.file.Files.isRegularFile(classNames)) throw new Checks.BadOption("--class-names " + classNames + ": no such file");
            long size;
            try {
                size = java.nio.file.Files.size(classNames);
            } catch (IOException e) {
                throw new Checks.BadOption("--class-names " + classNames + ": " + e.getMessage());
            }
            if (size > MAX_CLASS_FILE) throw new Checks.BadOption("--class-names " + classNames + ": " + size + " bytes, more than " + MAX_CLASS_FILE);
        }
        if ((mean == null) != (std == null)) throw new Checks.BadOption("--mean and --std go together");
        if (mean == null) return;
        if (mean.length != std.length) throw new Checks.BadOption("--mean has " + mean.length + " values, --std " + std.length);
        for (double s : std) if (!(s > 0) || Double.isInfinite(s)) throw new Checks.BadOption("--std values must be > 0, got " + Arrays.toString(std));
        for (double m : mean) if (!Double.isFinite(m)) throw new Checks.BadOption("--mean values must be finite, got " + Arrays.toString(mean));
    }

    /** {@link ModelSource#load} with the normalisation and class names given here in the data description (the model closed when they do not fit). */
    ModelFile.Loaded load(Path file, Backend backend) throws IOException {
        ModelFile.Loaded loaded = ModelSource.load(file, backend);
        try {
            DataInfo info = apply(loaded.data());
            if (classNames != null) info = named(loaded, info);
            return new ModelFile.Loaded(loaded.model(), info, loaded.metadata(), loaded.otherTensors());
        } catch (RuntimeException | IOException e) {
            loaded.model().close();
            throw e;
        }
    }

    /** The data description with the names of --class-names, one for each of the model's outputs. */
    private DataInfo named(ModelFile.Loaded loaded, DataInfo info) throws IOException {
        if (loaded.namesClasses()) throw new Checks.BadOption("--class-names: the model file names its classes itself: " + info.classNames());
        List<String> names;
        try {
            names = java.nio.file.Files.readAllLines(classNames, java.nio.charset.StandardCharsets.UTF_8).stream().map(String::strip).toList();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new Checks.BadOption("--class-names " + classNames + ": not UTF-8 text");
        }
        int last = names.size();
        while (last > 0 && names.get(last - 1).isEmpty()) last--; // blank lines at the end
        names = names.subList(0, last);
        int outputs = loaded.model().outputShape().size();
        if (names.size() != outputs) {
            throw new Checks.BadOption("--class-names " + classNames + " has " + names.size() + " names; the model has " + outputs + " outputs");
        }
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).isEmpty()) throw new Checks.BadOption("--class-names " + classNames + ": line " + (i + 1) + " is blank");
        }
        return new DataInfo(info.dataset(), names, info.normalization(), info.preprocessing(), info.augmentation());
    }

    /** Whether the classes are named, by the model file or by --class-names. */
    boolean namesClasses(ModelFile.Loaded loaded) {
        return classNames != null || loaded.namesClasses();
    }

    /** The model's data description, with the normalisation given here when it is given. */
    private DataInfo apply(DataInfo info) {
        if (mean == null) return info;
        if (mean.length != info.normalization().channels()) {
            throw new Checks.BadOption("--mean and --std have " + mean.length + " values; the model's input has " + info.normalization().channels() + " channels");
        }
        return new DataInfo(info.dataset(), info.classNames(), new Normalization(mean, std), info.preprocessing(), info.augmentation());
    }
}
