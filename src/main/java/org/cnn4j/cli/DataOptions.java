package org.cnn4j.cli;

import java.io.IOException;

import org.cnn4j.data.Dataset;
import org.cnn4j.data.Datasets;
import org.cnn4j.tensor.Shape;
import picocli.CommandLine.Option;

/** {@code --data} and {@code --limit}, shared by train and eval. */
final class DataOptions {
    @Option(names = "--data", defaultValue = "auto", description = {
            "fashion-mnist (Debian's dataset-fashion-mnist), synthetic (generated shapes, no download),",
            "a directory of IDX files (raw or .gz) or of CIFAR-10 binary batches, or auto: Fashion-MNIST",
            "when installed, else synthetic (default: ${DEFAULT-VALUE})."})
    String data;

    @Option(names = "--limit", defaultValue = "0", description = "Use only the first N training and N test images (default: 0, all).")
    int limit;

    @Option(names = "--max-data", defaultValue = "1g", paramLabel = "SIZE",
            description = "Largest dataset file read, e.g. 512m or 2g: a file whose header claims more is refused (default: ${DEFAULT-VALUE}).")
    String maxData;

    /** Checks the options' values (see {@link Checks}). */
    void check() {
        Checks.range("--limit", limit, 0, Integer.MAX_VALUE);
        maxBytes();
    }

    private long maxBytes() {
        return Checks.bytes("--max-data", maxData, 1, Integer.MAX_VALUE - 16);
    }

    /** The dataset, with generated shapes (when asked for) drawn at the model's input shape. */
    Datasets.Split open(long seed, Shape input) throws IOException {
        String spec = data;
        if (spec.equals("auto")) {
            if (Datasets.fashionMnistInstalled()) {
                spec = "fashion-mnist";
            } else {
                System.err.println("Fashion-MNIST is not installed, so cnn4j trains on its generated shapes instead. For the real dataset:\n"
                        + "  sudo apt-get install dataset-fashion-mnist    (puts it in " + Datasets.DEBIAN_FASHION_MNIST + ")\n"
                        + "or pass --data DIR with the four IDX files from https://github.com/zalandoresearch/fashion-mnist");
                spec = "synthetic";
            }
        }
        Datasets.Split split = Datasets.open(spec, seed, input, maxBytes());
        return limit <= 0 ? split : new Datasets.Split(head(split.train()), head(split.test()));
    }

    private Dataset head(Dataset d) {
        return d.slice(0, Math.min(limit, d.size()));
    }
}
