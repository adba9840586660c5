package org.cnn4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Normalization;
import org.cnn4j.io.ModelFile;
import picocli.CommandLine.Option;

/** {@code --mean} and {@code --std}: the inputs' normalisation for a model file that has none of its own (an ONNX file from elsewhere). */
final class NormalizationOptions {
    @Option(names = "--mean", split = ",", paramLabel = "M", description = "Per-channel means of the pixels in [0, 1] that the model's inputs "
            + "had subtracted, e.g. 0.485,0.456,0.406 (with --std; default: the model file's own normalisation).")
    double[] mean;

    @Option(names = "--std", split = ",", paramLabel = "S", description = "Per-channel standard deviations they were divided by, e.g. 0.229,0.224,0.225.")
    double[] std;

    /** Checks the options' values (see {@link Checks}). */
    void check() {
        if ((mean == null) != (std == null)) throw new Checks.BadOption("--mean and --std go together");
        if (mean == null) return;
        if (mean.length != std.length) throw new Checks.BadOption("--mean has " + mean.length + " values, --std " + std.length);
        for (double s : std) if (!(s > 0) || Double.isInfinite(s)) throw new Checks.BadOption("--std values must be > 0, got " + Arrays.toString(std));
        for (double m : mean) if (!Double.isFinite(m)) throw new Checks.BadOption("--mean values must be finite, got " + Arrays.toString(mean));
    }

    /** {@link ModelSource#load} with the normalisation given here in the data description (the model closed when it does not fit). */
    ModelFile.Loaded load(Path file, Backend backend) throws IOException {
        ModelFile.Loaded loaded = ModelSource.load(file, backend);
        try {
            return new ModelFile.Loaded(loaded.model(), apply(loaded.data()), loaded.metadata(), loaded.otherTensors());
        } catch (RuntimeException e) {
            loaded.model().close();
            throw e;
        }
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
