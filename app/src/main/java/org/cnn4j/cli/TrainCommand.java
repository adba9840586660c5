package org.cnn4j.cli;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.cuda.CudaBackend;
import org.cnn4j.backend.cuda.NcclCommunicator;
import org.cnn4j.data.Datasets;
import org.cnn4j.data.Preprocessing;
import org.cnn4j.data.ResizedCrop;
import org.cnn4j.distributed.Communicator;
import org.cnn4j.distributed.Mpi;
import org.cnn4j.io.ModelFile;
import org.cnn4j.model.Model;
import org.cnn4j.model.Models;
import org.cnn4j.optim.Adam;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.train.Evaluation;
import org.cnn4j.train.Schedule;
import org.cnn4j.train.Trainer;
import org.cnn4j.train.TrainingListener;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains a model and writes, into the output directory, model.safetensors (the trained model), "
                + "checkpoint.safetensors (after every epoch; --resume continues from it), metrics.csv, loss.png, "
                + "accuracy.png and confusion.png."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "fmnist-cnn",
            description = "fmnist-cnn, lenet5, vgg-small, resnet20 or resnet18 (the ResNets take the data's image size), or a model "
                    + "file (.safetensors or .onnx) to train further from its weights and normalisation (default: ${DEFAULT-VALUE}).")
    String model;

    @Mixin
    DataOptions data;

    @Option(names = "--epochs", description = "Epochs in all (default: 5, 10 for the ResNets, or the checkpoint's with --resume).")
    Integer epochs;

    @Option(names = "--batch", description = "Batch size (default: 64, 128 for the ResNets).")
    Integer batch;

    @Option(names = "--optimizer", defaultValue = "sgd", description = "sgd (with momentum) or adam (default: ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--lr", description = "Base learning rate (default: 0.05 for sgd, 0.1 for sgd on the ResNets, 0.001 for adam).")
    Double lr;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default: ${DEFAULT-VALUE}).")
    double momentum;

    @Option(names = "--weight-decay", defaultValue = "5e-4", description = "L2 weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--weights-only-decay", description = "Weight decay on the weights of convolutions and dense layers only, "
            + "not on biases nor on batch normalisation's scale and shift.")
    boolean weightsOnlyDecay;

    @Option(names = "--schedule", defaultValue = "cosine", description = "constant, cosine or step:EVERY:GAMMA (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--augment", description = "Random crop (4-pixel padding) and horizontal flip: for CIFAR-10, not for clothes or digits.")
    boolean augment;

    @Option(names = "--random-resized-crop", arity = "0..1", fallbackValue = "0.08", paramLabel = "MIN_SCALE",
            description = "A random window of each training image (from MIN_SCALE, default 0.08, to all of its area; aspect ratios "
                    + "3/4 to 4/3) resized to the input size, and a horizontal flip: torchvision's RandomResizedCrop, for photographs.")
    Double resizedCrop;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the weights, shuffling and augmentation (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", description = "Output directory (default: runs/MODEL).")
    Path out;

    @Option(names = "--resume", paramLabel = "CHECKPOINT", description = "Continue the run a checkpoint file recorded: its model, "
            + "optimizer, schedule, augmentation, seed and data (another --data where they moved; --epochs to train longer). "
            + "The same command line as the run's with --resume added does; an option that would change the run is refused.")
    Path resume;

    @Option(names = "--distributed", description = "Data-parallel training over the processes that mpirun (or srun) started, "
            + "e.g. mpirun -np 4 cnn4j train --distributed: each trains on its share of every epoch in batches of --batch, the gradients "
            + "averaged (a batch of --batch × processes in all); rank 0 prints and writes the output.")
    boolean distributed;

    @Option(names = "--sync-batchnorm", description = "With --distributed: BatchNorm layers normalise by the statistics of the whole batch over "
            + "all processes (PyTorch's SyncBatchNorm; default: each process by its own batch, as PyTorch's DistributedDataParallel).")
    boolean syncBatchNorm;

    @Option(names = "--collectives", defaultValue = "auto", description = "With --distributed: how the gradients are averaged: nccl (on the "
            + "GPUs), mpi (through the host), or auto: NCCL where the processes train on GPUs and every one can load it, else MPI "
            + "(default: ${DEFAULT-VALUE}).")
    String collectives;

    @Mixin
    DeviceOptions device;

    @Spec
    CommandSpec spec;

    /** With --resume: the seed the run's data were opened with (an unsplit folder's draw; for older checkpoints, the run's seed). */
    private long resumedSeed;

    /** The most a learning rate may be: far above any that trains, low enough that an update stays finite. */
    static final double MAX_LEARNING_RATE = 100;

    @Override
    public Integer call() throws Exception {
        if (batch != null) Checks.range("--batch", batch, 1, Trainer.Options.MAX_BATCH);
        if (epochs != null) Checks.range("--epochs", epochs, 1, Trainer.Options.MAX_EPOCHS);
        if (lr != null) Checks.range("--lr", lr, 0, true, MAX_LEARNING_RATE);
        Checks.range("--momentum", momentum, 0, false, 1);
        Checks.range("--weight-decay", weightDecay, 0, false, 1);
        Schedule plan = schedule();
        if (!optimizer.equalsIgnoreCase("sgd") && !optimizer.equalsIgnoreCase("adam")) {
            throw new Checks.BadOption("--optimizer must be sgd or adam, got '" + optimizer + "'");
        }
        if (resizedCrop != null && !(resizedCrop > 0 && resizedCrop <= 1)) {
            throw new Checks.BadOption("--random-resized-crop: the least share of the area must be in (0, 1], got " + resizedCrop);
        }
        data.check();
        device.check();
        Path startFile = Path.of(model);
        boolean fromFile = resume == null && java.nio.file.Files.isRegularFile(startFile);
        if (resume == null && !fromFile) ModelSource.requireKnown(model); // an unknown name fails before its output directory is made
        Path dir = Checks.writableDirectory("--out", out != null ? out : resume != null && resume.toAbsolutePath().getParent() != null
                ? resume.toAbsolutePath().getParent() : Path.of("runs", fromFile ? startFile.getFileName().toString().replaceFirst("\\.[^.]*$", "") : model));
        if (!List.of("auto", "nccl", "mpi").contains(collectives)) throw new Checks.BadOption("--collectives must be auto, nccl or mpi, got '" + collectives + "'");
        if (!distributed && (syncBatchNorm || !collectives.equals("auto"))) {
            throw new Checks.BadOption((syncBatchNorm ? "--sync-batchnorm" : "--collectives") + " needs --distributed");
        }
        if (distributed && !Mpi.launched()) {
            throw new Checks.BadOption("--distributed needs the processes of an MPI launcher: mpirun -np N cnn4j train --distributed …");
        }
        try (Communicator job = distributed ? Mpi.start() : Communicator.single()) {
            return train(job, dir, plan, startFile, fromFile);
        }
    }

    /** The run in this process: rank 0 of {@code job} prints and writes; the other ranks train in silence. */
    private int train(Communicator job, Path dir, Schedule plan, Path startFile, boolean fromFile) throws Exception {
        boolean lead = job.rank() == 0;
        PrintStream out = lead ? System.out : new PrintStream(OutputStream.nullOutputStream());
        Reporting.watchHeap();
        Progress progress = lead ? Progress.forConsole() : null;
        data.cacheDir = lead ? dir.resolve("cache") : dir.resolve("cache").resolve("rank-" + job.rank()); // no two processes write one cache
        if (progress != null) data.listener = progress.reading();
        try (Backend backend = device.open(job.localRank())) { // one GPU a process on each machine
            // A new model takes the data's class count (and a ResNet their image shape; generated shapes at 1×28×28), so the data come first.
            ModelFile.Loaded start = fromFile ? ModelSource.load(startFile, backend) : null;
            // Trained further on its own data, a model holds out the images it held out before: else some of them were trained on.
            DataOptions.Recorded before = start == null ? null : DataOptions.Recorded.of(start.metadata(), startFile);
            if (before != null) data.heldOutAs(before, startFile, this::given, "some of the images held out were trained on");
            long dataSeed = before != null && data.names(before.data()) ? before.seed() : seed;
            // ... and, unless --resize says otherwise, its images prepared as its weights were trained on, as they are normalised
            Datasets.Split first = resume != null ? null : data.open(dataSeed, start != null ? start.model().inputShape()
                    : Models.anyInput(model) ? null : Models.byName(model).plan().input(),
                    start != null && !given("--resize") ? start.data().preprocessing() : null, false);
            if (start != null && start.model().outputShape().size() != first.train().classes()) {
                start.model().close();
                throw new IllegalArgumentException(startFile + " has " + start.model().outputShape().size() + " outputs but "
                        + first.train().name() + " has " + first.train().classes() + " classes");
            }
            Trainer trainer = resume != null ? resumed(backend, plan)
                    : newTrainer(backend, plan, first.train().sampleShape().dims(), first.train().classes(), start == null ? null : start.model());
            if (start != null) trainer.normalization(start.data().normalization()); // the weights expect the inputs they were trained on
            if (epochs != null) trainer.epochs(epochs);
            Checks.fitsInMemory("--batch", trainer.options().batchSize(), trainer.model(), backend, 2);
            // A resumed run reads its data as it began: from where, split and prepared as then.
            Datasets.Split split = first != null ? first : data.open(resumedSeed, trainer.model().inputShape(), trainer.dataInfo().preprocessing(), false);
            trainer.checkpointMetadata(DataOptions.METADATA_KEY, data.record());
            out.printf(Locale.ROOT, "training %s on %s (%d images, test %d) on %s%s: %s, batch %d, %d epoch%s, schedule %s%s%n",
                    resume != null ? "from " + resume : model, split.train().name(), split.train().size(), split.test().size(),
                    backend.name(), job.size() > 1 ? " in each of " + job.size() + " processes" : "", trainer.optimizer().describe(),
                    trainer.options().batchSize(), trainer.options().epochs(), trainer.options().epochs() == 1 ? "" : "s",
                    trainer.options().schedule().text(), trainer.history().isEmpty() ? "" : ", resuming after epoch " + trainer.history().size());
            if (!trainer.history().isEmpty() && trainer.history().size() >= trainer.options().epochs()) {
                out.printf(Locale.ROOT, "the checkpoint has done its %d epochs already: nothing to train (--epochs N, more than %d, trains further)%n",
                        trainer.history().size(), trainer.history().size());
            }
            trainer.checkpointTo(dir.resolve("checkpoint.safetensors"));
            Reports reports = new Reports(dir);
            if (lead) trainer.listener(progress).listener(reports);
            if (data.folderPreprocessing != null) trainer.preprocessing(data.folderPreprocessing);
            NcclCommunicator nccl = job.size() > 1 ? nccl(job, backend, out) : null;
            try (Model trained = trainer.model(); AutoCloseable leaveNccl = nccl != null ? nccl : () -> { }) {
                if (job.size() > 1) trainer.distributed(nccl != null ? nccl : job).synchronisedBatchNorm(syncBatchNorm);
                StopNotice notice = lead ? new StopNotice(trainer, resume) : null;
                try (notice) {
                    trainer.fit(split.train(), split.test());
                }
                if (!lead) return 0;
                ModelFile.save(dir.resolve("model.safetensors"), trained, trainer.dataInfo(), trainer.checkpointMetadata(), Map.of());
                Evaluation test = Trainer.evaluate(trained, split.test(), trainer.dataInfo(), trainer.options().batchSize());
                Reporting.print(out, "test set", test, trainer.dataInfo().classNames());
            }
            if (data.skippedReport() != null) out.println(data.skippedReport());
            out.println(Reporting.peakHeap());
            out.println("wrote " + dir.resolve("model.safetensors") + ", checkpoint.safetensors, " + reports.written());
        }
        return 0;
    }

    /**
     * While training runs, a shutdown hook that says, when the run is stopped (Ctrl-C, a kill,
     * the end of a batch job's time), which checkpoint holds which epoch and how to continue.
     */
    private static final class StopNotice extends Thread implements TrainingListener, AutoCloseable {
        private volatile Path last;
        private volatile int epoch, epochs, saved;

        StopNotice(Trainer trainer, Path resumedFrom) {
            super("cnn4j-stop-notice");
            this.last = resumedFrom;
            this.saved = trainer.history().size();
            this.epochs = trainer.options().epochs();
            this.epoch = saved + 1;
            trainer.listener(this);
            Runtime.getRuntime().addShutdownHook(this);
        }

        @Override
        public void epochStarted(int e, int all, int batches) {
            epoch = e;
            epochs = all;
        }

        @Override
        public void checkpointSaved(Path file, int epochsSaved) {
            saved = epochsSaved;
            last = file;
        }

        @Override
        public void run() {
            Path file = last;
            System.err.println((System.console() != null ? "\n" : "") + "cnn4j train: stopped in epoch " + epoch + " of " + epochs + "; "
                    + (file == null ? "no epoch had ended, so there is no checkpoint to continue from"
                    : file + " holds epoch " + saved + ": cnn4j train --resume " + file + " continues the run"));
        }

        @Override
        public void close() {
            try {
                Runtime.getRuntime().removeShutdownHook(this);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs or has run
            }
        }
    }

    /**
     * NCCL between the processes' GPUs, where --collectives asks for it (auto: on the GPU backend,
     * when every process can load it); null: the gradients go through the host by MPI.
     */
    private NcclCommunicator nccl(Communicator job, Backend backend, PrintStream out) {
        if (collectives.equals("mpi")) return null;
        if (!(backend instanceof CudaBackend gpu)) {
            if (collectives.equals("nccl")) throw new Checks.BadOption("--collectives nccl needs the GPU backend, not " + backend.name());
            return null;
        }
        try {
            NcclCommunicator nccl = NcclCommunicator.join(gpu, job);
            out.println("gradients averaged on the GPUs by " + nccl.describe());
            return nccl;
        } catch (RuntimeException e) {
            if (collectives.equals("nccl")) throw e;
            out.println("gradients averaged through the host by MPI (NCCL: " + e.getMessage() + ")");
            return null;
        }
    }

    /**
     * The trainer of the --resume checkpoint, with the data options it recorded; an option given
     * with a value other than the checkpoint's is refused (the run would no longer be the one it
     * continues), each named with both values.
     */
    private Trainer resumed(Backend backend, Schedule plan) throws java.io.IOException {
        Trainer t = Trainer.resume(resume, backend);
        try {
            List<String> changed = new ArrayList<>();
            DataOptions.Recorded recorded = DataOptions.Recorded.of(t.checkpointMetadata(), resume);
            if (recorded != null) data.resumeAs(recorded, resume, this::given, changed);
            resumedSeed = recorded != null ? recorded.seed() : t.options().seed();
            Trainer.Options o = t.options();
            Map<String, Object> sgdOrAdam = t.optimizer().config();
            Preprocessing images = t.dataInfo().preprocessing();
            if (images != null) {
                differs(changed, "--image-size", data.imageSize > 0 && data.imageSize != images.input().dim(2), data.imageSize, images.input().dim(2));
                differs(changed, "--resize", data.resize > 0 && data.resize != images.resize(), data.resize, images.resize());
            }
            differs(changed, "--batch", batch != null && batch != o.batchSize(), batch, o.batchSize());
            differs(changed, "--seed", given("--seed") && seed != o.seed(), seed, o.seed());
            differs(changed, "--schedule", given("--schedule") && !plan.text().equals(o.schedule().text()), schedule, o.schedule().text());
            differs(changed, "--optimizer", given("--optimizer") && !optimizer.equalsIgnoreCase(String.valueOf(sgdOrAdam.get("type"))),
                    optimizer, sgdOrAdam.get("type"));
            differs(changed, "--lr", lr != null && lr != t.optimizer().learningRate(), lr, t.optimizer().learningRate());
            differs(changed, "--momentum", given("--momentum") && sgdOrAdam.get("momentum") instanceof Number m && m.doubleValue() != momentum,
                    momentum, sgdOrAdam.get("momentum"));
            differs(changed, "--weight-decay", given("--weight-decay") && ((Number) sgdOrAdam.get("weightDecay")).doubleValue() != weightDecay,
                    weightDecay, sgdOrAdam.get("weightDecay"));
            differs(changed, "--weights-only-decay", weightsOnlyDecay && Boolean.TRUE.equals(sgdOrAdam.get("decayBiasesAndNorms")), "on", "off");
            differs(changed, "--augment", augment && (o.cropPadding() != 4 || !o.flip()), "on", "off");
            differs(changed, "--random-resized-crop", resizedCrop != null && !ResizedCrop.scale(resizedCrop).equals(o.resizedCrop()), resizedCrop,
                    o.resizedCrop() == null ? "off" : o.resizedCrop().scaleMin());
            if (!changed.isEmpty()) {
                throw new Checks.BadOption("--resume continues the run " + resume + " recorded, which " + String.join("; ", changed)
                        + ". Leave the option" + (changed.size() > 1 ? "s" : "") + " out, or train a new run from its weights: --model " + resume);
            }
            return t;
        } catch (RuntimeException e) {
            t.model().close();
            throw e;
        }
    }

    private static void differs(List<String> changed, String option, boolean differs, Object given, Object recorded) {
        if (differs) changed.add("had " + option + " " + text(recorded) + ", not " + text(given));
    }

    private static String text(Object v) {
        return v instanceof Double d ? Checks.plain(d) : String.valueOf(v);
    }

    private boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    private Schedule schedule() {
        try {
            return Schedule.parse(schedule);
        } catch (IllegalArgumentException e) {
            throw new Checks.BadOption("--schedule: " + e.getMessage());
        }
    }

    private Trainer newTrainer(Backend backend, Schedule plan, int[] input, int classes, Model start) {
        Model m = start != null ? start : Models.byName(model, input, classes).seed(seed).build(backend);
        // The ResNets default to the recipe benchmarks/RESULTS.md reports for them: 10 epochs of batch 128 at 0.1.
        boolean resnet = start == null && Models.anyInput(model);
        Optimizer o = optimizer.equalsIgnoreCase("adam") ? new Adam(lr != null ? lr : 1e-3).weightDecay(weightDecay)
                : new Sgd(lr != null ? lr : resnet ? 0.1 : 0.05).momentum(momentum).weightDecay(weightDecay);
        o.decayBiasesAndNorms(!weightsOnlyDecay);
        Trainer.Options options = Trainer.Options.of(epochs != null ? epochs : resnet ? 10 : 5, batch != null ? batch : resnet ? 128 : 64)
                .schedule(plan).seed(seed).augment(augment ? 4 : 0, augment || resizedCrop != null)
                .resizedCrop(resizedCrop == null ? null : ResizedCrop.scale(resizedCrop));
        return new Trainer(m, o, options);
    }
}
