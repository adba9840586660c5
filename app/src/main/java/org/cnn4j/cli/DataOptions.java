package org.cnn4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import org.cnn4j.data.Dataset;
import org.cnn4j.data.Datasets;
import org.cnn4j.data.ImageFolder;
import org.cnn4j.data.Preprocessing;
import org.cnn4j.io.Json;
import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;
import picocli.CommandLine.Option;

/** {@code --data} and {@code --limit}, shared by train and eval. */
final class DataOptions {
    @Option(names = "--data", defaultValue = "auto", description =
            "fashion-mnist (Debian's dataset-fashion-mnist), synthetic (generated shapes, no download), "
            + "a directory of IDX files (raw or .gz) or of CIFAR-10 binary batches, a folder of images in "
            + "one folder per class (with train/ and val/ or test/, or split by --val-fraction), or auto: "
            + "Fashion-MNIST when installed, else synthetic (default: ${DEFAULT-VALUE}).")
    String data;

    @Option(names = "--image-size", defaultValue = "0", paramLabel = "N",
            description = "Side of the images read from an image folder, for the models that take any input size (resnet20, resnet18; "
                    + "default: 32); the others take their own.")
    int imageSize;

    @Option(names = "--resize", defaultValue = "0", paramLabel = "N",
            description = "Scale the shorter side of an image folder's images to N before the centre crop of the input size "
                    + "(torchvision's Resize(N) then CenterCrop; default: just enough for the crop). Recorded in the model file.")
    int resize;

    @Option(names = "--skip-bad-images", description = "Leave out the images of an image folder that cannot be decoded (counted at the end) "
            + "instead of stopping.")
    boolean skipBadImages;

    @Option(names = "--max-pixels", defaultValue = "89478485", paramLabel = "N",
            description = "Largest image (width × height from its header) an image folder may hold; larger ones are refused "
                    + "before decoding, as decompression bombs (default: ${DEFAULT-VALUE}, Pillow's limit).")
    long maxPixels;

    @Option(names = "--image-memory", paramLabel = "SIZE",
            description = "Most memory an image folder's decoded images may take, e.g. 2g (default: half the Java heap). A larger set is "
                    + "decoded into a memory-mapped cache file in the output folder, which the next run reuses while the files are unchanged.")
    String imageMemory;

    /** Where an image folder's sets too large for memory go (the run's output folder); null: nowhere, they are refused. */
    Path cacheDir;

    /** Who hears of an image folder's first pass (the command's progress bar); null: nobody. */
    ImageFolder.Listener listener;

    /** How the last image folder opened was prepared; null when the data were no image folder. */
    Preprocessing folderPreprocessing;

    /** What --data named, once opened: synthetic, fashion-mnist (auto resolved) or an absolute path. */
    private String source;

    /** The seed the data were last opened with (an unsplit folder's held-out draw, the generated shapes). */
    private long openedSeed;

    /** The images left out with --skip-bad-images. */
    final List<Path> skipped = new ArrayList<>();

    @Option(names = "--val-fraction", defaultValue = "0.1",
            description = "Share of each class of an unsplit image folder held out for validation, drawn with the seed (default: ${DEFAULT-VALUE}).")
    double valFraction;

    @Option(names = "--limit", defaultValue = "0", description = "Use only the first N training and N test images (default: 0, all).")
    int limit;

    @Option(names = "--max-data", defaultValue = "1g", paramLabel = "SIZE",
            description = "Largest dataset file read, e.g. 512m or 2g: a file whose header claims more is refused (default: ${DEFAULT-VALUE}).")
    String maxData;

    /** Checks the options' values (see {@link Checks}). */
    void check() {
        Checks.range("--limit", limit, 0, Integer.MAX_VALUE);
        Checks.range("--image-size", imageSize, 0, 4096);
        Checks.range("--resize", resize, 0, org.cnn4j.data.Preprocessing.MAX_SIDE);
        if (imageMemory != null) Checks.bytes("--image-memory", imageMemory, 0, Long.MAX_VALUE);
        Checks.range("--max-pixels", maxPixels, 1, 1L << 32);
        if (!(valFraction > 0 && valFraction < 1)) throw new Checks.BadOption("--val-fraction must be in (0, 1), got " + valFraction);
        maxBytes();
    }

    private long maxBytes() {
        return Checks.bytes("--max-data", maxData, 1, Integer.MAX_VALUE - 16);
    }

    /**
     * The dataset, with generated shapes (when asked for) drawn at the model's input shape and an
     * image folder's images read at it; input null: a model that takes any input (the images then
     * RGB at --image-size, the shapes 1×28×28).
     */
    Datasets.Split open(long seed, Shape input) throws IOException {
        return open(seed, input, null, false);
    }

    /**
     * {@link #open(long, Shape)}; an image folder's images prepared as {@code stored} says (a model
     * file's way; null: see {@link #preprocessing}); with {@code heldOutOnly}, its training images
     * are not decoded (the split's training set is empty): for an evaluation, with the training's seed.
     */
    Datasets.Split open(long seed, Shape input, Preprocessing stored, boolean heldOutOnly) throws IOException {
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
        Datasets.Split split;
        Path dir = Path.of(spec);
        openedSeed = seed;
        source = resolved(spec);
        if (!named(spec) && ImageFolder.looksLike(dir)) {
            List<Path> skips = skipBadImages ? skipped : null;
            Preprocessing p = stored != null ? stored : preprocessing(input);
            checkResize(resize, stored);
            folderPreprocessing = p;
            ImageFolder.Options o = ImageFolder.Options.of(p).split(valFraction, seed).maxPixels(maxPixels).skipBadImages(skips).listener(listener)
                    .cache(cacheDir, imageMemory == null ? Runtime.getRuntime().maxMemory() / 2 : Checks.bytes("--image-memory", imageMemory, 0, Long.MAX_VALUE));
            split = heldOutOnly ? new Datasets.Split(null, ImageFolder.openHeldOut(dir, o)) : ImageFolder.open(dir, o);
            if (split.test().size() == 0) { // a class holds out a share of its images only when it has two or more
                throw new IllegalArgumentException(spec + ": no class has the 2 images that holding out a share of it (--val-fraction "
                        + Checks.plain(valFraction) + ") needs, so there is nothing to validate on; add images, or split the folder into train/ and val/");
            }
        } else {
            split = Datasets.open(spec, seed, input != null ? input : Shape.of(1, 28, 28), maxBytes());
        }
        return limit <= 0 ? split : new Datasets.Split(split.train() == null ? null : head(split.train()), head(split.test()));
    }

    /** The metadata key under which train keeps {@link #record()} in its checkpoints and model files. */
    static final String METADATA_KEY = "cnn4j.cli.data";

    /**
     * The options that chose the data last opened, as JSON: what a resumed run must read again,
     * and where the images an evaluation may take are (those training held out).
     */
    String record() {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("data", source);
        r.put("valFraction", valFraction);
        r.put("seed", openedSeed);
        r.put("limit", limit);
        r.put("skipBadImages", skipBadImages);
        r.put("maxPixels", maxPixels);
        r.put("maxData", maxData);
        return Json.write(r);
    }

    /** What a checkpoint or model file that train wrote records of its data ({@link #record()}). */
    record Recorded(String data, double valFraction, long seed, int limit, boolean skipBadImages, long maxPixels, String maxData) {
        /** The record in {@code file}'s metadata; null: none (a file from elsewhere, or from before records were kept). */
        static Recorded of(Map<String, String> metadata, Path file) {
            String text = metadata.get(METADATA_KEY);
            if (text == null) return null;
            try {
                Settings r = Settings.of("metadata " + METADATA_KEY, Json.read(text));
                return new Recorded(r.string("data"), r.number("valFraction"), r.longInteger("seed"), r.integer("limit"), r.flag("skipBadImages"),
                        r.longInteger("maxPixels"), r.string("maxData"));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * For --resume: takes the data options that {@code checkpoint} recorded where the command line
     * does not give them. A --val-fraction or --limit given with another value than the recorded
     * one is added to {@code changed} (the run would go on with other training images); --data may
     * name another place (data that moved).
     */
    void resumeAs(Recorded r, Path checkpoint, Predicate<String> given, List<String> changed) {
        if (given.test("--val-fraction") && valFraction != r.valFraction()) {
            changed.add("had --val-fraction " + Checks.plain(r.valFraction()) + ", not " + Checks.plain(valFraction));
        }
        if (given.test("--limit") && limit != r.limit()) changed.add("had --limit " + r.limit() + ", not " + limit);
        valFraction = r.valFraction();
        limit = r.limit();
        if (!given.test("--skip-bad-images")) skipBadImages = r.skipBadImages();
        take(r, given, "the data of the run that " + checkpoint + " recorded");
    }

    /**
     * For a model file that train wrote: the data it was trained on where --data is not given,
     * and the share of an unsplit image folder that its training held out where --val-fraction is
     * not given; a --val-fraction given that differs is taken with a warning on standard error
     * that {@code risk}.
     */
    void heldOutAs(Recorded r, Path model, Predicate<String> given, String risk) {
        if (!given.test("--val-fraction")) {
            valFraction = r.valFraction();
        } else if (valFraction != r.valFraction()) {
            System.err.println("--val-fraction " + Checks.plain(valFraction) + " differs from the " + Checks.plain(r.valFraction())
                    + " that the training of " + model.getFileName() + " held out: where the data are an unsplit folder, " + risk);
        }
        take(r, given, "the data " + model + " was trained on");
    }

    /** The recorded data and size limits where not given; recorded data that are no longer where they were are refused, as {@code what}. */
    private void take(Recorded r, Predicate<String> given, String what) {
        if (!given.test("--max-pixels")) maxPixels = r.maxPixels();
        if (!given.test("--max-data")) maxData = r.maxData();
        check();
        if (given.test("--data")) return;
        data = r.data();
        if (!named(data) && !Files.exists(Path.of(data))) {
            throw new Checks.BadOption(what + " are no longer at " + data + ": give --data where they are now");
        }
    }

    /** Whether --data names {@code source} (a recorded one): the same dataset, or the same folder. */
    boolean names(String source) {
        return resolved(data).equals(source);
    }

    /** Whether {@code spec} is one of the datasets --data names (synthetic, fashion-mnist) rather than a path. */
    private static boolean named(String spec) {
        return spec.equals("synthetic") || spec.equals("fashion-mnist");
    }

    /** A --data value as a record keeps it: a dataset's name, or a path made absolute. */
    private static String resolved(String spec) {
        return named(spec) ? spec : Path.of(spec).toAbsolutePath().normalize().toString();
    }

    /** Refuses a --resize (given: not 0) other than the one the model file records, where it records one. */
    static void checkResize(int resize, Preprocessing stored) {
        if (stored != null && resize > 0 && resize != stored.resize()) {
            throw new Checks.BadOption("--resize " + resize + ": the model prepares its images as it was trained to: " + stored.describe());
        }
    }

    /** A line on the images left out (--skip-bad-images), or null when none were. */
    String skippedReport() {
        if (skipped.isEmpty()) return null;
        return "skipped " + skipped.size() + " image" + (skipped.size() == 1 ? "" : "s") + " that could not be decoded: "
                + String.join(", ", skipped.stream().limit(5).map(Path::toString).toList()) + (skipped.size() > 5 ? ", …" : "");
    }

    /**
     * How an image folder's images are prepared: at the model's input shape, or RGB at --image-size
     * for a model that takes any; the shorter side scaled to --resize first when given.
     */
    Preprocessing preprocessing(Shape input) {
        Shape shape = imageShape(input);
        if (resize > 0 && resize < Math.max(shape.dim(1), shape.dim(2))) {
            throw new Checks.BadOption("--resize " + resize + " is smaller than the " + shape.dim(1) + "×" + shape.dim(2) + " crop taken after it");
        }
        return new Preprocessing(shape, resize);
    }

    /** The shape an image folder is read at: the model's, or RGB at --image-size for a model that takes any. */
    private Shape imageShape(Shape input) {
        if (input == null) {
            int side = imageSize > 0 ? imageSize : 32;
            return Shape.of(3, side, side);
        }
        if (imageSize > 0 && (imageSize != input.dim(1) || imageSize != input.dim(2))) {
            throw new Checks.BadOption("--image-size " + imageSize + ": this model takes images of " + input.dim(1) + "×" + input.dim(2)
                    + "; --image-size applies to the models that take any size (resnet20, resnet18)");
        }
        return input;
    }

    private Dataset head(Dataset d) {
        return d.slice(0, Math.min(limit, d.size()));
    }
}
