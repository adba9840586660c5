package org.cnn4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import org.cnn4j.io.FileFormatException;
import org.cnn4j.tensor.Shape;

/**
 * Finds and loads the datasets cnn4j knows: MNIST-format IDX directories (Fashion-MNIST as Debian's
 * {@code dataset-fashion-mnist} installs it), CIFAR-10 binary batches, and the generated shapes.
 */
public final class Datasets {
    /** Where Debian's {@code dataset-fashion-mnist} package puts the files. */
    public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

    public static final List<String> FASHION_CLASSES = List.of(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
    public static final List<String> DIGIT_CLASSES = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    public static final List<String> CIFAR10_CLASSES = List.of(
            "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck");

    /**
     * The most bytes of data one dataset file may hold unless the caller says otherwise: 1 GiB,
     * twenty times Fashion-MNIST's training images and well above CIFAR-10's batches together.
     */
    public static final long DEFAULT_MAX_BYTES = 1L << 30;

    /** A training set and a test set. */
    public record Split(Dataset train, Dataset test) {
    }

    private Datasets() {
    }

    /**
     * Opens a dataset by name or directory: {@code fashion-mnist} (Debian's location),
     * {@code synthetic} (10 generated shapes, 1×28×28), or a directory holding IDX files, CIFAR-10
     * batches, or images in one folder per class ({@link ImageFolder}, read at the given shape).
     */
    public static Split open(String spec, long seed) throws IOException {
        return open(spec, seed, Shape.of(1, 28, 28));
    }

    /** Like {@link #open(String, long)}, with the generated shapes drawn at a model's input shape (c, h, w), h = w. */
    public static Split open(String spec, long seed, Shape synthetic) throws IOException {
        return open(spec, seed, synthetic, DEFAULT_MAX_BYTES);
    }

    /** Like {@link #open(String, long, Shape)}, reading no data file of more than {@code maxBytes} bytes. */
    public static Split open(String spec, long seed, Shape synthetic, long maxBytes) throws IOException {
        return switch (spec.toLowerCase(Locale.ROOT)) {
            case "fashion-mnist" -> {
                if (!fashionMnistInstalled()) {
                    throw new FileFormatException(DEBIAN_FASHION_MNIST, "Fashion-MNIST is not installed here; install it with "
                            + "'apt-get install dataset-fashion-mnist', or pass a directory holding its IDX files");
                }
                yield idx(DEBIAN_FASHION_MNIST, maxBytes);
            }
            case "synthetic" -> {
                if (synthetic.rank() != 3 || synthetic.dim(1) != synthetic.dim(2)) {
                    throw new IllegalArgumentException("generated shapes are square images (c, n, n), not " + synthetic);
                }
                int c = synthetic.dim(0), size = synthetic.dim(1);
                yield new Split(SyntheticShapes.generate(12_000, c, size, 10, seed), SyntheticShapes.generate(2_000, c, size, 10, seed + 1));
            }
            default -> {
                Path dir = Path.of(spec);
                if (Files.isRegularFile(dir) && ImageFolder.looksLike(dir)) { // a CSV manifest
                    yield ImageFolder.open(dir, synthetic, ImageFolder.DEFAULT_VAL_FRACTION, seed, Images.DEFAULT_MAX_PIXELS);
                }
                if (!Files.exists(dir)) {
                    throw new FileFormatException(dir, "no such file or directory, nor a dataset name (fashion-mnist, synthetic)");
                }
                if (!Files.isDirectory(dir)) {
                    throw new FileFormatException(dir, "not a dataset name (fashion-mnist, synthetic), a directory nor a CSV manifest");
                }
                if (!isCifar10(dir) && !hasIdx(dir) && ImageFolder.looksLike(dir)) {
                    yield ImageFolder.open(dir, synthetic, ImageFolder.DEFAULT_VAL_FRACTION, seed, Images.DEFAULT_MAX_PIXELS);
                }
                yield isCifar10(dir) ? cifar10(dir, maxBytes) : idx(dir, maxBytes);
            }
        };
    }

    /** Whether dir holds IDX training images (raw or gzipped). */
    private static boolean hasIdx(Path dir) {
        return Files.isRegularFile(find(dir, "train-images-idx3-ubyte"));
    }

    /** Whether Debian's Fashion-MNIST is installed. */
    public static boolean fashionMnistInstalled() {
        return Files.isRegularFile(find(DEBIAN_FASHION_MNIST, "train-images-idx3-ubyte"));
    }

    // ---------------------------------------------------------------- IDX

    /**
     * Loads {@code train-images-idx3-ubyte}, {@code train-labels-idx1-ubyte}, {@code t10k-images-idx3-ubyte}
     * and {@code t10k-labels-idx1-ubyte} (each raw or with {@code .gz}) from a directory. Ten classes;
     * their names are Fashion-MNIST's when the directory's name says "fashion", else the digits.
     */
    public static Split idx(Path dir) throws IOException {
        return idx(dir, DEFAULT_MAX_BYTES);
    }

    /** {@link #idx(Path)}, reading no file of more than {@code maxBytes} bytes of data. */
    public static Split idx(Path dir, long maxBytes) throws IOException {
        requireDirectory(dir);
        List<String> names = dir.toAbsolutePath().toString().toLowerCase(Locale.ROOT).contains("fashion") ? FASHION_CLASSES : DIGIT_CLASSES;
        String name = dir.getFileName() == null ? dir.toString() : dir.getFileName().toString();
        return new Split(idxPair(dir, "train", name + "-train", names, maxBytes), idxPair(dir, "t10k", name + "-test", names, maxBytes));
    }

    private static Dataset idxPair(Path dir, String prefix, String name, List<String> classNames, long maxBytes) throws IOException {
        Path imagesFile = require(dir, prefix + "-images-idx3-ubyte"), labelsFile = require(dir, prefix + "-labels-idx1-ubyte");
        IdxFiles.Contents images = IdxFiles.read(imagesFile, 3, maxBytes), labels = IdxFiles.read(labelsFile, 1, maxBytes);
        int n = images.dims()[0];
        if (labels.dims()[0] != n) {
            throw new FileFormatException(labelsFile, 4, "holds " + labels.dims()[0] + " labels but " + imagesFile.getFileName()
                    + " holds " + n + " images");
        }
        return new Dataset(name, Shape.of(1, images.dims()[1], images.dims()[2]), images.data(),
                checkedLabels(labelsFile, labels.data(), 8, 1, classNames.size()), classNames);
    }

    /** Labels of {@code stride}-byte records starting at byte {@code first}; each must be below {@code classes}. */
    private static int[] checkedLabels(Path file, byte[] bytes, long first, int stride, int classes) throws FileFormatException {
        int n = bytes.length / stride;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = bytes[i * stride] & 0xFF;
            if (labels[i] >= classes) {
                throw new FileFormatException(file, first + (long) i * stride, "label " + labels[i] + " of sample " + i
                        + " is out of range: this dataset has " + classes + " classes (0 to " + (classes - 1) + ")");
            }
        }
        return labels;
    }

    /** The file name, or the name with {@code .gz}, whichever exists (the plain name when neither does). */
    private static Path find(Path dir, String name) {
        Path plain = dir.resolve(name), gz = dir.resolve(name + ".gz");
        return Files.isRegularFile(plain) || !Files.isRegularFile(gz) ? plain : gz;
    }

    private static Path require(Path dir, String name) throws IOException {
        Path file = find(dir, name);
        if (!Files.isRegularFile(file)) {
            throw new FileFormatException(dir, "no " + name + " or " + name + ".gz here; this directory holds " + listing(dir));
        }
        return file;
    }

    // ---------------------------------------------------------------- CIFAR-10

    private static final int CIFAR_RECORD = 1 + 3 * 32 * 32;

    private static boolean isCifar10(Path dir) {
        return Files.isRegularFile(cifarDir(dir).resolve("test_batch.bin"));
    }

    private static Path cifarDir(Path dir) {
        Path inner = dir.resolve("cifar-10-batches-bin");
        return Files.isDirectory(inner) ? inner : dir;
    }

    /**
     * Loads CIFAR-10's binary version: {@code data_batch_1.bin} … {@code data_batch_5.bin} (those present)
     * and {@code test_batch.bin}, in the directory or its {@code cifar-10-batches-bin} subdirectory.
     * Each record is a label byte and 3×32×32 pixel bytes, red plane, green plane, blue plane.
     */
    public static Split cifar10(Path dir) throws IOException {
        return cifar10(dir, DEFAULT_MAX_BYTES);
    }

    /** {@link #cifar10(Path)}, reading no more than {@code maxBytes} bytes of files for either set. */
    public static Split cifar10(Path dir, long maxBytes) throws IOException {
        requireDirectory(dir);
        Path root = cifarDir(dir);
        List<Path> trainFiles = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            Path f = root.resolve("data_batch_" + i + ".bin");
            if (Files.isRegularFile(f)) trainFiles.add(f);
        }
        Path testFile = root.resolve("test_batch.bin");
        if (trainFiles.isEmpty() || !Files.isRegularFile(testFile)) {
            throw new FileFormatException(root, "expected data_batch_1.bin … data_batch_5.bin and test_batch.bin; this directory holds "
                    + listing(root));
        }
        return new Split(cifarBatches(trainFiles, "cifar10-train", maxBytes), cifarBatches(List.of(testFile), "cifar10-test", maxBytes));
    }

    private static Dataset cifarBatches(List<Path> files, String name, long maxBytes) throws IOException {
        long total = 0, fileBytes = 0;
        for (Path f : files) {
            long size = Files.size(f);
            if (size == 0 || size % CIFAR_RECORD != 0) {
                throw new FileFormatException(f, size - size % CIFAR_RECORD, "size " + size + " is not a whole number of "
                        + CIFAR_RECORD + "-byte CIFAR-10 records (1 label byte + 3072 pixel bytes)");
            }
            total += size / CIFAR_RECORD;
            fileBytes += size;
            if (fileBytes > maxBytes || fileBytes > Integer.MAX_VALUE - 16) {
                throw new FileFormatException(f, name + ": the batch files hold " + fileBytes + " bytes up to this one, more than the limit of "
                        + Math.min(maxBytes, Integer.MAX_VALUE - 16) + " bytes (which can be raised up to 2 GiB: --max-data)");
            }
        }
        byte[] pixels = new byte[(int) (total * (CIFAR_RECORD - 1))];
        int[] labels = new int[(int) total];
        int at = 0;
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(f);
            int n = bytes.length / CIFAR_RECORD;
            int[] fileLabels = checkedLabels(f, bytes, 0, CIFAR_RECORD, CIFAR10_CLASSES.size());
            for (int i = 0; i < n; i++) {
                System.arraycopy(bytes, i * CIFAR_RECORD + 1, pixels, (at + i) * (CIFAR_RECORD - 1), CIFAR_RECORD - 1);
            }
            System.arraycopy(fileLabels, 0, labels, at, n);
            at += n;
        }
        return new Dataset(name, Shape.of(3, 32, 32), pixels, labels, CIFAR10_CLASSES);
    }

    // ---------------------------------------------------------------- helpers

    private static void requireDirectory(Path dir) throws FileFormatException {
        if (!Files.isDirectory(dir)) throw new FileFormatException(dir, "no such directory");
    }

    private static String listing(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().limit(12).toList();
            return names.isEmpty() ? "nothing (it is empty)" : String.join(", ", names);
        }
    }
}
