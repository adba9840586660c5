package org.cnn4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Datasets;
import org.cnn4j.io.ModelFile;
import org.cnn4j.train.Evaluation;
import org.cnn4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluates a model file on a test set: loss, accuracy, per-class accuracy and the confusion matrix.",
                "A model file that cnn4j train wrote is evaluated, unless --data says otherwise, on the data it was trained on: "
                + "their test set, or the images its training held out of an unsplit image folder."})
final class EvalCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A model or checkpoint file.")
    Path model;

    @Mixin
    DataOptions data;

    @Option(names = "--batch", defaultValue = "256", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--out", description = "Also write confusion.png into this directory.")
    Path out;

    @Mixin
    DeviceOptions device;

    @Mixin
    NormalizationOptions normalization;

    @Spec
    CommandSpec spec;

    @Option(names = "--fold-batch-norm", description = "Fold each batch normalisation into the convolution or dense layer before it "
            + "first (the same outputs to float rounding, one pass less per normalisation).")
    boolean fold;

    @Override
    public Integer call() throws Exception {
        Checks.range("--batch", batch, 1, Trainer.Options.MAX_BATCH);
        data.check();
        device.check();
        normalization.check();
        if (out != null) Checks.writableDirectory("--out", out);
        // a set too large for memory is cached beside the model, where its training run cached its own
        data.cacheDir = model.toAbsolutePath().getParent() == null ? null : model.toAbsolutePath().getParent().resolve("cache");
        data.listener = Progress.forConsole().reading();
        try (Backend backend = device.open()) {
            ModelFile.Loaded loaded = normalization.load(model, backend);
            DataInfo info = loaded.data();
            try (var m = ModelSource.folded(loaded.model(), fold)) {
                if (!m.foldings().isEmpty()) System.out.println("folded: " + String.join(", ", m.foldings()));
                Checks.fitsInMemory("--batch", batch, m, backend, 1);
                // a model file train wrote names its data and how an unsplit image folder was split, so the same images are held
                // out; images prepared as the file says, or where it does not say (an ONNX file from elsewhere) as --resize says
                DataOptions.Recorded trained = DataOptions.Recorded.of(loaded.metadata(), model);
                if (trained != null) data.heldOutAs(trained, model, this::given, "some of the images evaluated were trained on");
                if (trained != null && trained.limit() > 0 && !given("--limit") && data.names(trained.data())) {
                    System.err.println("the training of " + model.getFileName() + " tested only the first " + trained.limit() + " test images (--limit "
                            + trained.limit() + "); all of them are evaluated here, and --limit " + trained.limit() + " evaluates what it tested");
                }
                long seed = trained != null ? trained.seed() : m.seed();
                Datasets.Split split = data.open(seed, m.inputShape(), info.preprocessing(), true);
                List<String> modelClasses = info.classNames(), dataClasses = split.test().classNames();
                if (!normalization.namesClasses(loaded) && dataClasses.size() == modelClasses.size() && !dataClasses.equals(modelClasses)) {
                    // numbered classes: the data's, in its order (sorted folder names, as torchvision's ImageFolder numbers them)
                    System.err.println(model.getFileName() + " numbers its classes; taking " + split.test().name() + "'s names for them in order: "
                            + String.join(", ", java.util.stream.IntStream.range(0, Math.min(dataClasses.size(), 10)).mapToObj(i -> i + " " + dataClasses.get(i)).toList())
                            + (dataClasses.size() > 10 ? ", …" : ""));
                    info = new DataInfo(info.dataset(), dataClasses, info.normalization(), info.preprocessing(), info.augmentation());
                    modelClasses = dataClasses;
                }
                if (!split.test().sampleShape().equals(m.inputShape()) || !dataClasses.equals(modelClasses)) {
                    throw new IllegalArgumentException(model + " was trained on images of shape " + m.inputShape() + " in the classes "
                            + modelClasses + " but " + split.test().name() + " has images of shape " + split.test().sampleShape()
                            + " in the classes " + dataClasses);
                }
                Evaluation e = Trainer.evaluate(m, split.test(), info, batch);
                Reporting.print(System.out, split.test().name(), e, info.classNames());
                if (data.skippedReport() != null) System.out.println(data.skippedReport());
                if (out != null) Reports.writeConfusion(out.resolve(Reports.CONFUSION), e.confusion(), info.classNames());
            }
        }
        return 0;
    }

    private boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }
}
