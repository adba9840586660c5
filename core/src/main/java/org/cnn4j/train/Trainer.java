package org.cnn4j.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.cnn4j.backend.Backend;
import org.cnn4j.data.Batch;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.DataLoader;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.Preprocessing;
import org.cnn4j.data.ResizedCrop;
import org.cnn4j.distributed.Communicator;
import org.cnn4j.io.FileFormatException;
import org.cnn4j.io.Json;
import org.cnn4j.io.ModelFile;
import org.cnn4j.io.Safetensors;
import org.cnn4j.io.Settings;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.model.Graph;
import org.cnn4j.model.GraphedStep;
import org.cnn4j.model.Model;
import org.cnn4j.optim.Optimizer;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a classifier for a number of epochs: shuffled, normalised (optionally augmented) batches
 * from a {@link DataLoader}, the learning rate from a {@link Schedule}, evaluation on a test set
 * after each epoch (loss, accuracy, confusion matrix), a checkpoint after each epoch when asked,
 * and {@link TrainingListener}s to observe it all. Steps run through a {@link GraphedStep} (a CUDA
 * graph on a GPU), whose losses are read back in bulk, every {@value #RESULT_WINDOW} steps or
 * {@value #REPORT_MILLIS} ms: listeners hear of each step then, in order. A loss that is not finite
 * stops training with a {@link TrainingDivergedException} naming the first such step, at the next
 * read-back, before the epoch ends and so before any checkpoint.
 *
 * <p>On the CPU backend a run is deterministic: the same seed gives bitwise the same weights, and a
 * run resumed from a checkpoint ({@link #resume}) ends exactly as the uninterrupted run would.
 */
public final class Trainer {
    private static final Logger log = LoggerFactory.getLogger(Trainer.class);
    static final String TRAINING_KEY = "cnn4j.training";
    private static final Set<String> RESERVED_KEYS = Set.of(ModelFile.FORMAT_KEY, ModelFile.ARCHITECTURE_KEY, ModelFile.DATA_KEY, TRAINING_KEY);
    private static final String STATE_PREFIX = "optimizer/";
    /** Steps whose results stay on the device before they are read back, at most. */
    private static final int RESULT_WINDOW = 64;
    private static final long REPORT_MILLIS = 250;

    /**
     * How to train. {@code resizedCrop} (else null), {@code cropPadding} > 0 and {@code flip} turn on
     * augmentation (a random resized crop, a random crop of the padded image, a horizontal flip:
     * see {@link DataLoader}); {@code seed} drives the shuffling and the augmentation.
     */
    public record Options(int epochs, int batchSize, Schedule schedule, long seed, int cropPadding, boolean flip, ResizedCrop resizedCrop) {
        /** Limits of a run: a million epochs, batches of 65,536, crops padded by 1,024 pixels at most. */
        public static final int MAX_EPOCHS = 1_000_000, MAX_BATCH = 1 << 16, MAX_CROP_PADDING = 1024;

        public Options {
            if (epochs < 1 || epochs > MAX_EPOCHS) throw new IllegalArgumentException("epochs must be between 1 and " + MAX_EPOCHS + ", got " + epochs);
            if (batchSize < 1 || batchSize > MAX_BATCH) {
                throw new IllegalArgumentException("batch size must be between 1 and " + MAX_BATCH + ", got " + batchSize);
            }
            if (cropPadding < 0 || cropPadding > MAX_CROP_PADDING) {
                throw new IllegalArgumentException("crop padding must be between 0 and " + MAX_CROP_PADDING + ", got " + cropPadding);
            }
            if (schedule == null) throw new IllegalArgumentException("a schedule is needed");
        }

        public static Options of(int epochs, int batchSize) {
            return new Options(epochs, batchSize, new Schedule.Constant(), 0, 0, false, null);
        }

        public Options schedule(Schedule s) {
            return new Options(epochs, batchSize, s, seed, cropPadding, flip, resizedCrop);
        }

        public Options seed(long s) {
            return new Options(epochs, batchSize, schedule, s, cropPadding, flip, resizedCrop);
        }

        public Options augment(int padding, boolean mirror) {
            return new Options(epochs, batchSize, schedule, seed, padding, mirror, resizedCrop);
        }

        /** With a random resized crop before the other augmentations (null: none). */
        public Options resizedCrop(ResizedCrop crop) {
            return new Options(epochs, batchSize, schedule, seed, cropPadding, flip, crop);
        }

        public Options epochs(int e) {
            return new Options(e, batchSize, schedule, seed, cropPadding, flip, resizedCrop);
        }
    }

    private final Model model;
    private final Optimizer optimizer;
    private Options options;
    private final double baseLearningRate;
    private final List<EpochMetrics> history = new ArrayList<>();
    private final List<TrainingListener> listeners = new ArrayList<>();
    private DataInfo data;
    private Preprocessing preprocessing;
    private org.cnn4j.data.Normalization normalization;
    private Path checkpoint;
    private Communicator communicator = Communicator.single();
    private boolean synchronisedBatchNorm;
    private final Map<String, String> runMetadata = new LinkedHashMap<>();

    public Trainer(Model model, Optimizer optimizer, Options options) {
        this.model = model;
        this.optimizer = optimizer;
        this.options = options;
        this.baseLearningRate = optimizer.learningRate();
    }

    public Trainer listener(TrainingListener listener) {
        listeners.add(listener);
        return this;
    }

    /**
     * Data-parallel training over the processes of {@code c} (each running this trainer on a
     * replica built alike, with the same options): each process trains on its share of every epoch
     * ({@link DataLoader#shard}), the gradients are averaged over the processes after each backward
     * pass (so each batch of the job is options' batch size × processes), the epoch's train loss and
     * accuracy are those of all processes' samples, and rank 0 alone writes the checkpoint. Each
     * process evaluates the whole test set (the replicas being equal, with equal results).
     */
    public Trainer distributed(Communicator c) {
        if (!(model instanceof Graph)) throw new IllegalArgumentException("data-parallel training needs a graph model");
        this.communicator = c;
        return this;
    }

    /**
     * With {@link #distributed}: every BatchNorm layer normalises by the statistics of the job's
     * whole batch, summed over the processes in each forward pass (PyTorch's SyncBatchNorm), rather
     * than each replica by its own batch's (the default, as PyTorch's DistributedDataParallel).
     */
    public Trainer synchronisedBatchNorm(boolean on) {
        this.synchronisedBatchNorm = on;
        return this;
    }

    /**
     * Keeps an application's own description of the run (where its data came from, say) in every
     * checkpoint, as metadata {@code key}; {@link #resume} reads it back into
     * {@link #checkpointMetadata()}. The keys cnn4j writes itself are refused.
     */
    public Trainer checkpointMetadata(String key, String value) {
        if (key == null || value == null || RESERVED_KEYS.contains(key)) {
            throw new IllegalArgumentException("checkpoint metadata needs a key other than " + RESERVED_KEYS + " and a value, got " + key + "=" + value);
        }
        runMetadata.put(key, value);
        return this;
    }

    /** The application's metadata that checkpoints keep (see {@link #checkpointMetadata(String, String)}). */
    public Map<String, String> checkpointMetadata() {
        return Map.copyOf(runMetadata);
    }

    /** Saves a checkpoint to this file after every epoch (atomically: a crash leaves the previous one). */
    public Trainer checkpointTo(Path file) {
        this.checkpoint = file;
        return this;
    }

    /**
     * How the training images were prepared from their files (an image folder's resize and crop),
     * recorded in the model file for evaluation and prediction; by default the training set's
     * sample shape, scaled to cover.
     */
    public Trainer preprocessing(Preprocessing p) {
        this.preprocessing = p;
        return this;
    }

    /**
     * Normalises the inputs as given instead of by the training set's statistics: for a model whose
     * weights were trained on inputs normalised so (training on from another model file).
     */
    public Trainer normalization(org.cnn4j.data.Normalization n) {
        this.normalization = n;
        return this;
    }

    /** The augmentation of the options, as the model file records it. */
    private Map<String, Object> augmentation() {
        Map<String, Object> a = new LinkedHashMap<>();
        if (options.resizedCrop() != null) a.put("randomResizedCrop", options.resizedCrop().config());
        if (options.cropPadding() > 0) a.put("paddedCrop", options.cropPadding());
        if (options.flip()) a.put("horizontalFlip", true);
        return a;
    }

    /** Trains more or fewer epochs in all than first planned (e.g. to extend a resumed run). */
    public Trainer epochs(int epochs) {
        this.options = options.epochs(epochs);
        return this;
    }

    /**
     * Trains the remaining epochs on {@code train}, evaluating on {@code test} (may be null) after
     * each. Returns the metrics of every epoch so far, including those before a resume.
     */
    public List<EpochMetrics> fit(Dataset train, Dataset test) throws IOException {
        if (data == null) {
            if (preprocessing != null && !preprocessing.input().equals(train.sampleShape())) {
                throw new IllegalArgumentException("the images were prepared as " + preprocessing.input() + " but " + train.name() + " holds "
                        + train.sampleShape());
            }
            DataInfo own = DataInfo.of(train);
            if (normalization != null) {
                own = new DataInfo(own.dataset(), own.classNames(), normalization, own.preprocessing(), null);
            }
            data = own.with(preprocessing != null ? preprocessing : own.preprocessing(), augmentation());
        }
        checkFits(train);
        if (test != null) {
            checkFits(test);
            if (test.size() == 0) throw new IllegalArgumentException(test.name() + " holds no samples to evaluate on");
        }
        DataLoader loader = DataLoader.of(train, options.batchSize()).shuffle(options.seed()).normalization(data.normalization())
                .randomResizedCrop(options.resizedCrop()).randomCrop(options.cropPadding()).horizontalFlip(options.flip())
                .shard(communicator.rank(), communicator.size());
        if (model instanceof Graph graph) {
            boolean parallel = communicator.size() > 1;
            graph.averageGradientsOver(parallel ? communicator : null).synchroniseBatchNorms(parallel && synchronisedBatchNorm ? communicator : null);
        }
        Map<Integer, GraphedStep> steps = new HashMap<>();
        try {
            for (int epoch = history.size(); epoch < options.epochs(); epoch++) {
                double lr = options.schedule().rate(baseLearningRate, epoch, options.epochs());
                optimizer.learningRate(lr);
                Progress progress = new Progress(epoch + 1, loader.batches(), lr);
                for (TrainingListener l : listeners) l.epochStarted(epoch + 1, options.epochs(), progress.batches);
                GraphedStep current = null;
                try (DataLoader.Epoch batchesOfEpoch = loader.epoch(epoch)) {
                    while (batchesOfEpoch.hasNext()) {
                        long asked = System.nanoTime();
                        Batch batch = batchesOfEpoch.next();
                        progress.waited += System.nanoTime() - asked;
                        GraphedStep step = steps.computeIfAbsent(batch.size(), n -> new GraphedStep(model, optimizer, n, RESULT_WINDOW));
                        if (current != null && current != step) progress.report(current.results());
                        current = step;
                        step.run(batch.x(), batch.y());
                        progress.started(batch.index(), model.step() - 1);
                        if (step.pending() == RESULT_WINDOW || progress.due()) progress.report(step.results());
                    }
                }
                if (current != null) progress.report(current.results());
                double seconds = progress.seconds();
                requireFiniteWeights(epoch + 1, lr);
                Evaluation eval = test == null ? null : evaluate(model, test, data, options.batchSize());
                if (eval != null && !Double.isFinite(eval.loss())) {
                    throw new TrainingDivergedException(model.step(), epoch + 1, "the test loss is " + eval.loss(), lr);
                }
                double[] totals = {progress.lossSum, progress.correct, progress.seen}; // over all processes' samples
                communicator.allReduceSum(totals);
                EpochMetrics m = new EpochMetrics(epoch + 1, lr, totals[0] / totals[2], totals[1] / totals[2],
                        eval == null ? Double.NaN : eval.loss(), eval == null ? Double.NaN : eval.accuracy(), seconds, totals[2] / seconds, progress.waited / 1e9);
                history.add(m);
                log.debug(String.format(Locale.ROOT, "epoch %d/%d: train loss %.4f accuracy %.4f, test loss %.4f accuracy %.4f, %.1f s (%.0f images/s)",
                        m.epoch(), options.epochs(), m.trainLoss(), m.trainAccuracy(), m.testLoss(), m.testAccuracy(), seconds, m.imagesPerSecond()));
                if (checkpoint != null && communicator.rank() == 0) {
                    saveCheckpoint(checkpoint);
                    for (TrainingListener l : listeners) l.checkpointSaved(checkpoint, history.size());
                }
                for (TrainingListener l : listeners) l.epochDone(m, eval, this);
            }
        } finally {
            for (GraphedStep step : steps.values()) step.close();
        }
        return List.copyOf(history);
    }

    /**
     * One epoch's running totals. Steps report their results in bulk (every {@value #RESULT_WINDOW}
     * steps, or sooner when {@value #REPORT_MILLIS} ms have passed, so that a progress bar on a slow
     * device still moves), and the listeners hear of each step, in order, as its result arrives.
     */
    private final class Progress {
        final int epoch, batches;
        final double lr;
        final long start = System.nanoTime();
        final ArrayDeque<long[]> unreported = new ArrayDeque<>(); // {batch index, model step}
        long lastReport = start, correct, seen;
        long waited; // nanoseconds spent waiting for the loader's next batch
        double lossSum;

        Progress(int epoch, int batches, double lr) {
            this.epoch = epoch;
            this.batches = batches;
            this.lr = lr;
        }

        void started(int batch, long step) {
            unreported.add(new long[] {batch, step});
        }

        boolean due() {
            return System.nanoTime() - lastReport > REPORT_MILLIS * 1_000_000L;
        }

        double seconds() {
            return (System.nanoTime() - start) * 1e-9;
        }

        void report(List<Model.StepResult> results) {
            lastReport = System.nanoTime();
            double elapsed = seconds();
            for (Model.StepResult r : results) {
                long[] at = unreported.remove();
                if (!Double.isFinite(r.loss())) throw new TrainingDivergedException(at[1], epoch, (int) at[0], batches, r.loss(), lr);
                lossSum += r.loss() * r.samples();
                correct += r.correct();
                seen += r.samples();
                TrainingListener.Step step = new TrainingListener.Step(epoch, (int) at[0], batches, at[1] + 1, r.loss(), r.accuracy(),
                        lossSum / seen, seen / elapsed);
                for (TrainingListener l : listeners) l.stepDone(step);
            }
        }
    }

    /**
     * A step's loss comes from the weights before its update, so an update that breaks the weights
     * shows in no loss when it is an epoch's last step: look at the weights themselves.
     */
    private void requireFiniteWeights(int epoch, double lr) {
        for (Parameter p : model.parameters()) requireFinite("parameter '" + p.name() + "'", p.value(), epoch, lr);
        for (org.cnn4j.layer.Layer.State t : model.state()) requireFinite("state '" + t.name() + "'", t.value(), epoch, lr);
    }

    private void requireFinite(String what, Tensor t, int epoch, double lr) {
        for (float v : t.toFloatArray()) {
            if (!Float.isFinite(v)) throw new TrainingDivergedException(model.step(), epoch, what + " holds " + v, lr);
        }
    }

    private void checkFits(Dataset d) {
        if (!d.sampleShape().equals(model.inputShape())) {
            throw new IllegalArgumentException(d.name() + " has images of shape " + d.sampleShape() + " but the model takes " + model.inputShape());
        }
        if (d.classes() != model.outputShape().size()) {
            throw new IllegalArgumentException(d.name() + " has " + d.classes() + " classes but the model has " + model.outputShape().size() + " outputs");
        }
        if (!d.classNames().equals(data.classNames())) {
            throw new IllegalArgumentException(d.name() + " has classes " + d.classNames() + " but the model was trained on " + data.classNames());
        }
    }

    /** Mean loss, accuracy and confusion matrix of a model on a dataset, normalised as {@code info} says. */
    public static Evaluation evaluate(Model model, Dataset dataset, DataInfo info, int batchSize) {
        if (!dataset.sampleShape().equals(model.inputShape()) || dataset.classes() != model.outputShape().size()) {
            throw new IllegalArgumentException(dataset.name() + " has images of shape " + dataset.sampleShape() + " in " + dataset.classes()
                    + " classes but the model takes " + model.inputShape() + " and has " + model.outputShape().size() + " outputs");
        }
        Backend backend = model.backend();
        ConfusionMatrix confusion = new ConfusionMatrix(dataset.classes());
        DataLoader loader = DataLoader.of(dataset, batchSize).normalization(info.normalization());
        Map<Integer, Tensor[]> buffers = new HashMap<>();
        double lossSum = 0;
        try (DataLoader.Epoch epoch = loader.epoch(0)) {
            while (epoch.hasNext()) {
                Batch batch = epoch.next();
                int n = batch.size();
                Tensor[] t = buffers.computeIfAbsent(n, k -> new Tensor[] {backend.allocate(batch.shape()), backend.allocateInts(Shape.of(k)),
                        backend.allocateInts(Shape.of(k))});
                backend.write(t[0], batch.x());
                backend.writeInts(t[1], batch.y());
                Tensor output = model.forward(t[0], Pass.INFERENCE);
                lossSum += model.loss(output, t[1], false) * n;
                backend.argmax(t[2], output.reshape(Shape.of(n, output.shape().size() / n)));
                confusion.add(batch.y(), t[2].toIntArray(), n);
            }
        } finally {
            for (Tensor[] t : buffers.values()) for (Tensor x : t) x.close();
        }
        return new Evaluation(lossSum / dataset.size(), confusion);
    }

    // ---------------------------------------------------------------- checkpoints

    /**
     * Saves model, data description, optimizer state and progress in one model file (see
     * {@link ModelFile}) with the extra metadata {@code cnn4j.training} and tensors
     * {@code optimizer/<parameter>/<i>}. Atomic.
     */
    public void saveCheckpoint(Path file) throws IOException {
        if (data == null) throw new IllegalStateException("nothing to checkpoint before training has started");
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("epochs", options.epochs());
        state.put("batchSize", options.batchSize());
        state.put("schedule", options.schedule().text());
        state.put("seed", options.seed());
        state.put("cropPadding", options.cropPadding());
        state.put("flip", options.flip());
        if (options.resizedCrop() != null) state.put("resizedCrop", options.resizedCrop().config());
        state.put("baseLearningRate", baseLearningRate);
        state.put("modelStep", model.step());
        state.put("optimizer", optimizer.config());
        state.put("optimizerSteps", optimizer.steps());
        state.put("history", history.stream().map(EpochMetrics::config).toList());
        Map<String, Safetensors.Entry> tensors = new LinkedHashMap<>();
        for (Parameter p : model.parameters()) {
            Tensor[] s = optimizer.state(p);
            if (s != null) for (int i = 0; i < s.length; i++) tensors.put(STATE_PREFIX + p.name() + "/" + i, ModelFile.entry(s[i]));
        }
        Map<String, String> metadata = new LinkedHashMap<>(runMetadata);
        metadata.put(TRAINING_KEY, Json.write(state));
        ModelFile.save(file, model, data, metadata, tensors);
    }

    /** A trainer that continues the run a checkpoint recorded, with its model rebuilt on {@code backend}. */
    public static Trainer resume(Path file, Backend backend) throws IOException {
        ModelFile.Loaded loaded = ModelFile.load(file, backend);
        try {
            String text = loaded.metadata().get(TRAINING_KEY);
            if (text == null) throw new FileFormatException(file, "a model file but not a checkpoint: it has no " + TRAINING_KEY + " metadata");
            Settings s = new Settings("checkpoint", Json.readObject(text));
            Optimizer optimizer = Optimizer.fromConfig(Settings.of("checkpoint optimizer", s.require("optimizer")));
            optimizer.learningRate(s.number("baseLearningRate"));
            Options options = new Options(s.integer("epochs"), s.integer("batchSize"), Schedule.parse(s.string("schedule")),
                    s.longInteger("seed"), s.integer("cropPadding"), s.flag("flip"),
                    s.values().containsKey("resizedCrop") ? ResizedCrop.fromConfig(Settings.of("checkpoint resizedCrop", s.require("resizedCrop"))) : null);
            Trainer trainer = new Trainer(loaded.model(), optimizer, options);
            trainer.data = loaded.data();
            loaded.metadata().forEach((key, value) -> {
                if (!RESERVED_KEYS.contains(key)) trainer.runMetadata.put(key, value);
            });
            for (Object e : s.list("history")) trainer.history.add(EpochMetrics.fromConfig(Settings.of("checkpoint history", e)));
            Map<String, Safetensors.Entry> others = new LinkedHashMap<>(loaded.otherTensors());
            Map<Parameter, float[][]> state = new IdentityHashMap<>();
            for (Parameter p : loaded.model().parameters()) {
                List<float[]> values = new ArrayList<>();
                for (Safetensors.Entry t; (t = others.remove(STATE_PREFIX + p.name() + "/" + values.size())) != null; ) values.add(t.values());
                if (!values.isEmpty()) state.put(p, values.toArray(float[][]::new));
            }
            if (!others.isEmpty()) throw new FileFormatException(file, "tensors " + others.keySet() + " belong to no parameter of the model");
            optimizer.restore(s.integer("optimizerSteps"), state);
            loaded.model().resumeAt(s.longInteger("modelStep"));
            return trainer;
        } catch (IllegalArgumentException e) {
            loaded.model().close();
            throw new FileFormatException(file, "bad checkpoint: " + e.getMessage());
        } catch (IOException e) {
            loaded.model().close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- accessors

    public Model model() {
        return model;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    public Options options() {
        return options;
    }

    /** The data description (classes, normalisation): set by the first {@link #fit}, or by the checkpoint. */
    public DataInfo dataInfo() {
        return data;
    }

    /** Metrics of the epochs done so far. */
    public List<EpochMetrics> history() {
        return List.copyOf(history);
    }
}
