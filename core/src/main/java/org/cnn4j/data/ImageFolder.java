package org.cnn4j.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import org.cnn4j.io.FileFormatException;
import org.cnn4j.tensor.Shape;

/**
 * A dataset of image files in one folder per class, as torchvision's {@code ImageFolder} reads
 * it: the class names are the sub-folders' names, sorted, and the labels follow that order; the
 * images of a class are the image files anywhere below its folder, in sorted order. Either the
 * folder holds {@code train/} and {@code val/} (or {@code test/}) with the same classes, or it
 * holds the class folders itself and a seeded, per-class (stratified) share of each class becomes
 * the validation set.
 *
 * <p>Each image is decoded (PNG, JPEG with CMYK and YCCK, BMP, GIF: see {@link Images}; its pixel count
 * checked first, see {@link Images}), converted to the target's channels as PIL's
 * {@code convert("L")} / {@code convert("RGB")} do (grey by ITU-R 601-2 luma), its shorter side
 * scaled to the target size (area-averaged when shrinking) and the centre cropped: the images are
 * decoded once and kept as 8-bit pixels. Hidden files and files without an image extension are
 * passed over. A CSV manifest (a file {@code name.csv}, or {@code train.csv} with {@code val.csv} or
 * {@code test.csv} in a folder) lists the images and their labels instead, in its own order
 * ({@link #manifest}). A class folder without images, a folder without class folders, train and validation
 * folders with different classes, and an image that cannot be decoded are refused with the
 * folder's or file's name.
 */
public final class ImageFolder {
    /** The share of each class held out for validation when the folder is not split already (torchvision has none; 0.1 is common). */
    public static final double DEFAULT_VAL_FRACTION = 0.1;
    private static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg", ".bmp", ".gif");

    private ImageFolder() {
    }

    /** Whether {@code dir} looks like an image folder: a split one (train/ and val/ or test/), or class folders holding image files. */
    public static boolean looksLike(Path dir) throws IOException {
        if (isManifest(dir)) return true;
        if (!Files.isDirectory(dir)) return false;
        if (Files.isRegularFile(dir.resolve("train.csv")) && heldOutManifest(dir) != null) return true;
        if (Files.isDirectory(dir.resolve("train")) && heldOut(dir) != null) return true;
        for (Path c : classFolders(dir)) {
            if (hasImages(c)) return true;
        }
        return false;
    }

    /**
     * The training and validation sets of an image folder, every image as {@code sample} (c, h, w)
     * with c = 1 or 3: split as the folder is split, else with {@code valFraction} of each class
     * (drawn with {@code seed}) held out.
     */
    public static Datasets.Split open(Path dir, Shape sample, double valFraction, long seed, long maxPixels) throws IOException {
        return open(dir, sample, valFraction, seed, maxPixels, null);
    }

    /**
     * {@link #open(Path, Shape, double, long, long)}; with {@code skipped} (else null), an image that
     * cannot be decoded is left out and its file added to {@code skipped} instead of stopping the read.
     */
    public static Datasets.Split open(Path dir, Shape sample, double valFraction, long seed, long maxPixels, List<Path> skipped)
            throws IOException {
        return open(dir, Preprocessing.of(sample), valFraction, seed, maxPixels, skipped);
    }

    /** {@link #open(Path, Shape, double, long, long, List)} with the images prepared as {@code p} says (its resize before the crop). */
    public static Datasets.Split open(Path dir, Preprocessing p, double valFraction, long seed, long maxPixels, List<Path> skipped)
            throws IOException {
        return open(dir, Options.of(p).split(valFraction, seed).maxPixels(maxPixels).skipBadImages(skipped));
    }

    /** The training and validation sets of an image folder read as {@code options} say. */
    public static Datasets.Split open(Path dir, Options options) throws IOException {
        return open(dir, options.preprocessing(), options.valFraction(), options.seed(), new Decoding(options, true));
    }

    /**
     * Only the validation (or test) set of {@link #open(Path, Options)}, the same images, without
     * decoding the training images: what an evaluation needs. An unsplit folder gives the images
     * held out in training when the validation share and seed are training's.
     */
    public static Dataset openHeldOut(Path dir, Options options) throws IOException {
        return open(dir, options.preprocessing(), options.valFraction(), options.seed(), new Decoding(options, false)).test();
    }

    /** Hears of the first pass over a set's images (from any thread while they are read). */
    public interface Listener {
        /** Reading {@code images} images of the set {@code name} begins (not called for a set read from its cache). */
        void started(String name, int images);

        /** One more image was read. */
        void imageRead();

        /** The set is read. */
        void finished(String name);
    }

    /**
     * How to read an image folder: the preprocessing; the validation share and the seed that draws
     * it (for an unsplit folder); the pixel limit ({@link Images}); where the files that cannot be
     * decoded go when they are skipped (null: they stop the read); a folder for cache files (null:
     * none) and the most bytes a set may take in memory, beyond which it is decoded into a
     * memory-mapped cache file in that folder (see {@link ImageCache}; without a folder such a set
     * is refused); and who hears of the progress (null: nobody).
     */
    public record Options(Preprocessing preprocessing, double valFraction, long seed, long maxPixels, List<Path> skipped, Path cacheDir,
                          long memoryLimit, Listener listener) {
        public Options {
            if (!(valFraction > 0 && valFraction < 1)) throw new IllegalArgumentException("the validation share must be in (0, 1), got " + valFraction);
            if (maxPixels < 1) throw new IllegalArgumentException("the pixel limit must be positive, got " + maxPixels);
            if (memoryLimit < 0) throw new IllegalArgumentException("the memory limit must be >= 0, got " + memoryLimit);
        }

        /** A tenth held out with seed 0, the default pixel limit, bad images stop the read, in memory up to half the heap, no cache folder. */
        public static Options of(Preprocessing p) {
            return new Options(p, DEFAULT_VAL_FRACTION, 0, Images.DEFAULT_MAX_PIXELS, null, null, Runtime.getRuntime().maxMemory() / 2, null);
        }

        public Options split(double share, long withSeed) {
            return new Options(preprocessing, share, withSeed, maxPixels, skipped, cacheDir, memoryLimit, listener);
        }

        public Options maxPixels(long limit) {
            return new Options(preprocessing, valFraction, seed, limit, skipped, cacheDir, memoryLimit, listener);
        }

        /** Images that cannot be decoded are left out and added to {@code into} (null: they stop the read). */
        public Options skipBadImages(List<Path> into) {
            return new Options(preprocessing, valFraction, seed, maxPixels, into, cacheDir, memoryLimit, listener);
        }

        /** Sets of more than {@code bytes} decoded go to a cache file in {@code dir}, where the next read with the same files finds them. */
        public Options cache(Path dir, long bytes) {
            return new Options(preprocessing, valFraction, seed, maxPixels, skipped, dir, bytes, listener);
        }

        public Options listener(Listener l) {
            return new Options(preprocessing, valFraction, seed, maxPixels, skipped, cacheDir, memoryLimit, l);
        }
    }

    private static Datasets.Split open(Path dir, Preprocessing sample, double valFraction, long seed, Decoding decoding) throws IOException {
        if (!(valFraction > 0 && valFraction < 1)) throw new IllegalArgumentException("the validation share must be in (0, 1), got " + valFraction);
        Thread.ofVirtual().start(TurboJpeg::available); // links the library (a few tenths of a second) while the files are listed
        String name = dir.toAbsolutePath().normalize().getFileName() == null ? dir.toString() : dir.toAbsolutePath().normalize().getFileName().toString();
        if (isManifest(dir)) return split(name.replaceFirst("(?i)\\.csv$", ""), manifest(dir, null), valFraction, seed, sample, decoding);
        if (Files.isRegularFile(dir.resolve("train.csv")) && heldOutManifest(dir) != null) {
            Listing t = manifest(dir.resolve("train.csv"), null), v = manifest(heldOutManifest(dir), t.classes());
            String held = heldOutManifest(dir).getFileName().toString().replace(".csv", "");
            return new Datasets.Split(train(name + "-train", t.files(), t.labels(), t.classes(), sample, decoding),
                    read(name + "-" + held, v.files(), v.labels(), v.classes(), sample, decoding));
        }
        Path train = dir.resolve("train"), val = heldOut(dir);
        if (Files.isDirectory(train) && val != null) {
            Listing t = list(train), v = list(val);
            if (!t.classes().equals(v.classes())) {
                throw new FileFormatException(val, "its classes " + v.classes() + " differ from those of " + train + ": " + t.classes());
            }
            return new Datasets.Split(train(name + "-train", t.files(), t.labels(), t.classes(), sample, decoding),
                    read(name + "-" + val.getFileName(), v.files(), v.labels(), v.classes(), sample, decoding));
        }
        return split(name, list(dir), valFraction, seed, sample, decoding);
    }

    /** A listing split per class: a seeded {@code valFraction} of each class (at least one of a class of two or more) held out. */
    private static Datasets.Split split(String name, Listing all, double valFraction, long seed, Preprocessing sample, Decoding decoding) throws IOException {
        List<Path> trainFiles = new ArrayList<>(), valFiles = new ArrayList<>();
        List<Integer> trainLabels = new ArrayList<>(), valLabels = new ArrayList<>();
        Random rng = new Random(seed);
        for (int c = 0; c < all.classes().size(); c++) {
            List<Path> ofClass = new ArrayList<>();
            for (int i = 0; i < all.files().size(); i++) if (all.labels().get(i) == c) ofClass.add(all.files().get(i));
            java.util.Collections.shuffle(ofClass, rng);
            int held = ofClass.size() < 2 ? 0 : Math.max(1, (int) Math.round(valFraction * ofClass.size()));
            for (int i = 0; i < ofClass.size(); i++) {
                (i < held ? valFiles : trainFiles).add(ofClass.get(i));
                (i < held ? valLabels : trainLabels).add(c);
            }
        }
        return new Datasets.Split(train(name + "-train", trainFiles, trainLabels, all.classes(), sample, decoding),
                read(name + "-val", valFiles, valLabels, all.classes(), sample, decoding));
    }

    private static boolean isManifest(Path p) {
        return Files.isRegularFile(p) && p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".csv");
    }

    private static Path heldOutManifest(Path dir) {
        for (String s : List.of("val.csv", "test.csv")) if (Files.isRegularFile(dir.resolve(s))) return dir.resolve(s);
        return null;
    }

    /**
     * A CSV manifest: a row per image, {@code path,label} (a header row naming them may come first),
     * paths relative to the manifest's folder, in the order the rows give. Labels are class names,
     * sorted; or, when every label is a whole number, the numbers themselves in numeric order
     * (labels 0 to 9 are then the classes 0 to 9, as in an IDX dataset). With {@code classes}, the
     * rows must use those (a validation manifest takes its training manifest's).
     */
    private static Listing manifest(Path csv, List<String> classes) throws IOException {
        List<Path> files = new ArrayList<>();
        List<String> names = new ArrayList<>();
        Path base = csv.toAbsolutePath().getParent();
        try (java.io.Reader in = Files.newBufferedReader(csv, java.nio.charset.StandardCharsets.UTF_8);
             org.apache.commons.csv.CSVParser rows = org.apache.commons.csv.CSVFormat.DEFAULT.builder().setTrim(true).get().parse(in)) {
            for (org.apache.commons.csv.CSVRecord row : rows) {
                if (row.size() == 1 && row.get(0).isEmpty()) continue; // a blank line
                if (row.size() != 2) {
                    throw new FileFormatException(csv, "row " + row.getRecordNumber() + " has " + row.size() + " fields; a manifest's rows are path,label");
                }
                if (row.getRecordNumber() == 1 && row.get(0).equalsIgnoreCase("path") && row.get(1).equalsIgnoreCase("label")) continue;
                Path file = base.resolve(row.get(0)).normalize();
                if (!Files.isRegularFile(file)) throw new FileFormatException(csv, "row " + row.getRecordNumber() + ": no such file " + file);
                files.add(file);
                names.add(row.get(1));
            }
        } catch (java.io.UncheckedIOException e) {
            throw new FileFormatException(csv, "not a CSV file: " + e.getCause().getMessage());
        }
        if (files.isEmpty()) throw new FileFormatException(csv, "a manifest without rows (path,label)");
        boolean numbers = names.stream().allMatch(n -> n.matches("\\d{1,9}"));
        List<String> sorted = classes != null ? classes : names.stream().distinct()
                .sorted(numbers ? java.util.Comparator.comparingInt(Integer::parseInt) : java.util.Comparator.naturalOrder()).toList();
        if (sorted.size() < 2) throw new FileFormatException(csv, "a classifier needs at least two classes, the manifest has " + sorted);
        List<Integer> labels = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            int label = sorted.indexOf(names.get(i));
            if (label < 0) throw new FileFormatException(csv, "label '" + names.get(i) + "' of " + files.get(i) + " is none of the classes " + sorted);
            labels.add(label);
        }
        return new Listing(sorted, files, labels);
    }

    private static Path heldOut(Path dir) {
        for (String s : List.of("val", "test")) if (Files.isDirectory(dir.resolve(s))) return dir.resolve(s);
        return null;
    }

    /** The image files of a folder of class folders, with their labels and the sorted class names. */
    private record Listing(List<String> classes, List<Path> files, List<Integer> labels) {
    }

    private static Listing list(Path dir) throws IOException {
        List<Path> folders = classFolders(dir);
        if (folders.size() < 2) {
            throw new FileFormatException(dir, "an image folder holds one folder per class (at least two), with the class's images in it; found "
                    + folders.size());
        }
        List<String> classes = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        for (Path folder : folders) {
            List<Path> images = images(folder);
            if (images.isEmpty()) throw new FileFormatException(folder, "a class folder without image files (" + String.join(", ", EXTENSIONS) + ")");
            for (Path p : images) {
                files.add(p);
                labels.add(classes.size());
            }
            classes.add(className(folder));
        }
        return new Listing(classes, files, labels);
    }

    /**
     * A class folder's name, which the model file keeps. Java decodes file names with the encoding
     * of the locale it started in (sun.jnu.encoding): bytes that encoding cannot read (an accented
     * name under the POSIX locale, a Latin-1 name under UTF-8) come out as U+FFFD, and such a name is
     * refused rather than stored garbled.
     */
    private static String className(Path folder) throws FileFormatException {
        String name = folder.getFileName().toString();
        if (name.indexOf('\uFFFD') >= 0) {
            throw new FileFormatException(folder, "this class folder's name is not valid in Java's file-name encoding ("
                    + System.getProperty("sun.jnu.encoding") + ", from the locale), so its class name would be stored garbled:"
                    + " run Java in a UTF-8 locale (e.g. LC_ALL=C.UTF-8) or rename the folder");
        }
        return name;
    }

    /** The visible sub-folders, sorted by name. */
    private static List<Path> classFolders(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).filter(p -> !hidden(p)).sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString())).toList();
        }
    }

    /** The visible image files (PNG, JPEG, BMP, GIF) anywhere below a folder, sorted by their path relative to it. */
    public static List<Path> images(Path folder) throws IOException {
        List<Map.Entry<String, Path>> found = new ArrayList<>(); // by the path relative to the folder
        // one walk, the attributes it reads anyway, hidden folders not entered
        Files.walkFileTree(folder, java.util.Set.of(java.nio.file.FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult preVisitDirectory(Path d, java.nio.file.attribute.BasicFileAttributes a) {
                return !d.equals(folder) && hidden(d) ? java.nio.file.FileVisitResult.SKIP_SUBTREE : java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFile(Path f, java.nio.file.attribute.BasicFileAttributes a) {
                if (a.isRegularFile() && !hidden(f) && isImage(f)) found.add(Map.entry(folder.relativize(f).toString(), f));
                return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                if (e instanceof java.nio.file.FileSystemLoopException) return java.nio.file.FileVisitResult.SKIP_SUBTREE;
                throw e;
            }
        });
        found.sort(Map.Entry.comparingByKey());
        return found.stream().map(Map.Entry::getValue).toList();
    }

    /** Whether a folder holds a visible image file anywhere below it (stopping at the first). */
    private static boolean hasImages(Path folder) throws IOException {
        try (Stream<Path> s = Files.walk(folder)) {
            return s.filter(Files::isRegularFile).anyMatch(p -> !hiddenBelow(folder, p) && isImage(p));
        }
    }

    private static boolean hidden(Path p) {
        return p.getFileName().toString().startsWith(".");
    }

    private static boolean hiddenBelow(Path folder, Path p) {
        for (Path part : folder.relativize(p)) if (part.toString().startsWith(".")) return true;
        return false;
    }

    private static boolean isImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return EXTENSIONS.stream().anyMatch(n::endsWith);
    }

    /** How to read, and whether the training images are decoded too. */
    private record Decoding(Options options, boolean trainToo) {
        long maxPixels() {
            return options.maxPixels();
        }

        List<Path> skipped() {
            return options.skipped();
        }
    }

    /** The training set, or an empty one in the same classes when only the held-out images are wanted. */
    private static Dataset train(String name, List<Path> files, List<Integer> labels, List<String> classes, Preprocessing p, Decoding decoding)
            throws IOException {
        return decoding.trainToo() ? read(name, files, labels, classes, p, decoding) : new Dataset(name, p.input(), new byte[0], new int[0], classes);
    }

    private static Dataset read(String name, List<Path> files, List<Integer> labels, List<String> classes, Preprocessing p, Decoding decoding)
            throws IOException {
        Shape sample = p.input();
        if (files.isEmpty()) return new Dataset(name, sample, new byte[0], new int[0], classes); // classes of one image hold none out
        long size = sample.size(), bytes = files.size() * size;
        Options o = decoding.options();
        ImageCache.Decoder decoder = into -> decode(name, files, p, decoding, into);
        MemorySegment pixels;
        List<Integer> bad = new ArrayList<>();
        if (bytes <= o.memoryLimit() && bytes <= Integer.MAX_VALUE - 16) {
            byte[] held = new byte[(int) bytes];
            boolean[] failed = decoder.decode(MemorySegment.ofArray(held));
            int kept = 0;
            for (int i = 0; i < files.size(); i++) {
                if (failed[i]) {
                    bad.add(i);
                    continue;
                }
                System.arraycopy(held, (int) (i * size), held, (int) (kept * size), (int) size);
                kept++;
            }
            pixels = MemorySegment.ofArray(bad.isEmpty() ? held : java.util.Arrays.copyOf(held, (int) (kept * size)));
        } else if (o.cacheDir() != null) {
            String key = ImageCache.key(files, labels, classes, p);
            Path file = ImageCache.file(o.cacheDir(), name, key);
            ImageCache.Cached cached = ImageCache.open(file, key, files.size(), size);
            if (cached == null) cached = ImageCache.write(file, key, files.size(), size, decoder);
            if (o.skipped() == null && !cached.bad().isEmpty()) {
                throw new FileFormatException(files.get(cached.bad().getFirst()), "cannot be decoded (the image cache " + file
                        + " left it out; --skip-bad-images leaves such images out)");
            }
            pixels = cached.pixels();
            bad = cached.bad();
        } else {
            Path where = files.get(0).getParent().getParent() != null ? files.get(0).getParent().getParent() : files.get(0).getParent();
            throw new FileFormatException(where, files.size() + " images of " + sample + " take " + bytes / (1 << 20) + " MiB decoded, more than "
                    + (bytes > Integer.MAX_VALUE - 16 ? "one in-memory dataset holds (2 GiB)" : "the memory limit (" + o.memoryLimit() / (1 << 20)
                    + " MiB; raise -Xmx)") + " and there is no folder for a cache file: read them smaller (--image-size) or fewer");
        }
        int[] ys = new int[files.size() - bad.size()];
        for (int i = 0, k = 0, b = 0; i < files.size(); i++) {
            if (b < bad.size() && bad.get(b) == i) {
                decoding.skipped().add(files.get(i));
                b++;
            } else {
                ys[k++] = labels.get(i);
            }
        }
        if (ys.length == 0) throw new FileFormatException(files.get(0).getParent(), "none of its " + files.size() + " images could be decoded");
        return new Dataset(name, sample, pixels, ys, classes);
    }

    /**
     * Decodes the images into {@code into} (image i at i·c·h·w) on every core; each image writes its
     * own slice, so the result is the same in any order. Returns which could not be decoded (when
     * they are skipped; otherwise the first such stops the read).
     */
    private static boolean[] decode(String name, List<Path> files, Preprocessing p, Decoding decoding, MemorySegment into) throws IOException {
        int size = p.input().size(), w = p.width(), h = p.height();
        boolean[] bad = new boolean[files.size()];
        Listener listener = decoding.options().listener();
        if (listener != null) listener.started(name, files.size());
        ThreadLocal<byte[]> buffers = ThreadLocal.withInitial(() -> new byte[size]);
        try {
            java.util.stream.IntStream.range(0, files.size()).parallel().forEach(i -> {
                try {
                    byte[] one = buffers.get();
                    pixelsOf(Images.read(files.get(i), Math.max(w, p.resize()), Math.max(h, p.resize()), decoding.maxPixels()), p, one, 0);
                    MemorySegment.copy(one, 0, into, java.lang.foreign.ValueLayout.JAVA_BYTE, (long) i * size, size);
                } catch (FileFormatException e) {
                    if (decoding.skipped() == null) throw new java.io.UncheckedIOException(e);
                    bad[i] = true;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                if (listener != null) listener.imageRead();
            });
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
        if (listener != null) listener.finished(name);
        return bad;
    }

    /**
     * Writes an image as c×h×w bytes at {@code at}, as torchvision's {@code Resize(size)} then
     * {@code CenterCrop} on a PIL image: converted to grey or RGB, its shorter side scaled to the
     * target's and the longer in proportion (truncated), resampled with PIL's bilinear filter
     * (widened by the scale when shrinking, which is what antialiases), the centre cropped. An image
     * already of the target size is copied exactly.
     */
    static void pixelsOf(BufferedImage image, int c, int h, int w, byte[] out, int at) {
        pixelsOf(image, Preprocessing.of(Shape.of(c, h, w)), out, at);
    }

    /** {@link #pixelsOf(BufferedImage, int, int, int, byte[], int)} with the shorter side scaled to {@code p}'s resize (when not 0). */
    static void pixelsOf(BufferedImage image, Preprocessing p, byte[] out, int at) {
        int sw = image.getWidth(), sh = image.getHeight(), c = p.channels(), h = p.height(), w = p.width();
        float[][] planes = channels(image, c);
        int rw, rh;
        if (p.resize() > 0) { // torchvision's Resize(int): the shorter side to it, the longer int(resize · long / short)
            rw = sw <= sh ? p.resize() : Math.max(w, (int) ((long) p.resize() * sw / sh));
            rh = sw <= sh ? Math.max(h, (int) ((long) p.resize() * sh / sw)) : p.resize();
        } else if (sw * h <= sh * w) { // the width is the shorter side (relative to the target)
            rw = w;
            rh = Math.max(h, (int) ((long) w * sh / sw));
        } else {
            rh = h;
            rw = Math.max(w, (int) ((long) h * sw / sh));
        }
        // torchvision: int(round(...)), which rounds halves to even
        int top = (int) Math.rint((rh - h) / 2.0), left = (int) Math.rint((rw - w) / 2.0);
        boolean resized = rw != sw || rh != sh;
        Weights across = resized ? weights(sw, rw) : null, down = resized ? weights(sh, rh) : null; // once for every channel
        for (int ch = 0; ch < c; ch++) {
            float[] plane = planes[ch];
            if (resized) plane = resample(plane, sw, sh, rw, rh, across, down);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    out[at + (ch * h + y) * w + x] = (byte) Math.min(255, Math.max(0, Math.round(plane[(top + y) * rw + left + x])));
                }
            }
        }
    }

    /** The image's pixels as c planes of floats: grey (PIL's luma of the colours) or R, G, B; grey images are read as stored. */
    private static float[][] channels(BufferedImage image, int c) {
        int w = image.getWidth(), h = image.getHeight(), n = w * h;
        float[][] planes = new float[c][n];
        // Grey images (8 or 16 bits, with or without alpha) are read as stored: getRGB would pass them
        // through a linear grey colour space and brighten them. 16 bits keep their high byte.
        if (image.getColorModel().getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY) {
            int shift = Math.max(0, image.getColorModel().getComponentSize(0) - 8);
            int[] grey = bands(image, 1)[0];
            for (int ch = 0; ch < c; ch++) for (int i = 0; i < n; i++) planes[ch][i] = grey[i] >> shift;
            return planes;
        }
        java.awt.image.ColorModel cm = image.getColorModel();
        if (cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_CMYK) {
            int[][] inks = bands(image, 4);
            for (int i = 0; i < n; i++) {
                put(planes, c, i, cmykToRgb(inks[0][i], inks[3][i]), cmykToRgb(inks[1][i], inks[3][i]), cmykToRgb(inks[2][i], inks[3][i]));
            }
            return planes;
        }
        int bits = cm.getComponentSize(0);
        // 8- or 16-bit sRGB (the JPEG and RGB PNG decoders' images): the raster's bands are R, G, B;
        // 16 bits keep their high byte, as Pillow does
        boolean srgb = !(cm instanceof java.awt.image.IndexColorModel) && cm.getColorSpace().isCS_sRGB() && cm.getNumColorComponents() == 3
                && (bits == 8 || bits == 16) && cm.getComponentSize(1) == bits && cm.getComponentSize(2) == bits;
        if (srgb && bits == 8 && rgbBytes(image, c, planes)) return planes;
        if (srgb) {
            int[][] bands = bands(image, 3);
            int shift = bits - 8;
            for (int i = 0; i < n; i++) put(planes, c, i, bands[0][i] >> shift, bands[1][i] >> shift, bands[2][i] >> shift);
            return planes;
        }
        int[] rgb = image.getRGB(0, 0, w, h, null, 0, w); // palettes and the rest, through the colour model
        for (int i = 0; i < n; i++) put(planes, c, i, (rgb[i] >> 16) & 0xFF, (rgb[i] >> 8) & 0xFF, rgb[i] & 0xFF);
        return planes;
    }

    /** Pixel i of the planes from its colour: grey by PIL's luma (c = 1), else R, G and B. */
    private static void put(float[][] planes, int c, int i, int r, int g, int b) {
        if (c == 1) {
            planes[0][i] = luma(r, g, b);
        } else {
            planes[0][i] = r;
            planes[1][i] = g;
            planes[2][i] = b;
        }
    }

    /**
     * Reads an 8-bit RGB raster held as interleaved bytes (what the JPEG decoders make) straight
     * into grey or R, G, B planes; false, leaving them, for any other layout.
     */
    private static boolean rgbBytes(BufferedImage image, int c, float[][] planes) {
        java.awt.image.Raster r = image.getRaster();
        if (!(r.getDataBuffer() instanceof java.awt.image.DataBufferByte bytes) || bytes.getNumBanks() != 1
                || !(r.getSampleModel() instanceof java.awt.image.ComponentSampleModel sm) || r.getSampleModelTranslateX() != 0
                || r.getSampleModelTranslateY() != 0) {
            return false;
        }
        byte[] data = bytes.getData();
        int w = r.getWidth(), h = r.getHeight(), stride = sm.getScanlineStride(), step = sm.getPixelStride();
        int[] at = sm.getBandOffsets();
        int red = bytes.getOffset() + at[0], green = bytes.getOffset() + at[1], blue = bytes.getOffset() + at[2];
        for (int y = 0; y < h; y++) {
            int row = y * stride, p = y * w;
            if (c == 1) {
                float[] grey = planes[0];
                for (int x = 0, i = row; x < w; x++, i += step) grey[p + x] = luma(data[i + red] & 0xFF, data[i + green] & 0xFF, data[i + blue] & 0xFF);
            } else {
                float[] rs = planes[0], gs = planes[1], bs = planes[2];
                for (int x = 0, i = row; x < w; x++, i += step) {
                    rs[p + x] = data[i + red] & 0xFF;
                    gs[p + x] = data[i + green] & 0xFF;
                    bs[p + x] = data[i + blue] & 0xFF;
                }
            }
        }
        return true;
    }

    /**
     * The first {@code count} bands of the image's raster, as stored: read straight from the bytes
     * of an 8-bit raster (what the PNG and JPEG decoders make), else sample by sample.
     */
    private static int[][] bands(BufferedImage image, int count) {
        java.awt.image.Raster r = image.getRaster();
        int w = r.getWidth(), h = r.getHeight();
        if (r.getDataBuffer() instanceof java.awt.image.DataBufferByte bytes && bytes.getNumBanks() == 1
                && r.getSampleModel() instanceof java.awt.image.ComponentSampleModel sm && r.getSampleModelTranslateX() == 0
                && r.getSampleModelTranslateY() == 0) {
            byte[] data = bytes.getData();
            int stride = sm.getScanlineStride(), step = sm.getPixelStride();
            int[][] out = new int[count][w * h];
            for (int b = 0; b < count; b++) {
                int[] band = out[b];
                int at = bytes.getOffset() + sm.getBandOffsets()[b];
                for (int y = 0; y < h; y++) {
                    for (int x = 0, i = at + y * stride; x < w; x++, i += step) band[y * w + x] = data[i] & 0xFF;
                }
            }
            return out;
        }
        int[][] out = new int[count][];
        for (int b = 0; b < count; b++) out[b] = r.getSamples(0, 0, w, h, b, (int[]) null);
        return out;
    }

    /** A plane of sw×sh resampled to dw×dh, columns then rows, with {@link #filter}'s weights for each (sw to dw, sh to dh). */
    static float[] resample(float[] plane, int sw, int sh, int dw, int dh, Weights across, Weights down) {
        float[] out = new float[dw * dh];
        resample(plane, 0, sw, sw, across, down, new float[sw * dh], out, 0);
        return out;
    }

    /**
     * {@link #resample(float[], int, int, int, int, Weights, Weights)} of the sw-wide window of
     * {@code src} at {@code offset} (rows {@code stride} apart; sw and the height are the weights'
     * source sizes) into {@code out} at {@code to} (dw×dh, rows dw apart), with {@code columns}
     * (at least sw·dh floats) as scratch. The source is read completely before {@code out} is
     * written, so the two may overlap.
     */
    static void resample(float[] src, int offset, int stride, int sw, Weights across, Weights down, float[] columns, float[] out, int to) {
        resample(src, offset, stride, sw, across, down, columns, out, to, false);
    }

    /** {@link #resample(float[], int, int, int, Weights, Weights, float[], float[], int)}, mirrored left to right when asked. */
    static void resample(float[] src, int offset, int stride, int sw, Weights across, Weights down, float[] columns, float[] out, int to,
                         boolean mirror) {
        int dw = across.first.length, dh = down.first.length;
        // Down the columns first: an output row is a weighted sum of whole source rows, a loop over
        // contiguous floats that the JIT vectorises; then along the (fewer) rows. Pillow goes the
        // other way round; the sums differ in rounding only.
        java.util.Arrays.fill(columns, 0, sw * dh, 0f);
        for (int y = 0; y < dh; y++) {
            float[] weight = down.weight[y];
            for (int k = 0, row = y * sw; k < weight.length; k++) {
                float wk = weight[k];
                for (int x = 0, from = offset + (down.first[y] + k) * stride; x < sw; x++) columns[row + x] += wk * src[from + x];
            }
        }
        // Along the rows: the weights laid out flat with a fixed number of taps, so that the common
        // cases (2 taps when enlarging, 3 to 5 when shrinking a little) run without an inner loop's overhead.
        int taps = across.taps;
        int[] start = across.start;
        float[] flat = across.flat;
        for (int y = 0; y < dh; y++) {
            int row = y * sw, o = to + y * dw;
            if (taps == 2) {
                for (int x = 0; x < dw; x++) {
                    int at = row + start[x];
                    float v = flat[2 * x] * columns[at] + flat[2 * x + 1] * columns[at + 1];
                    out[o + (mirror ? dw - 1 - x : x)] = v;
                }
            } else {
                for (int x = 0; x < dw; x++) {
                    float v = 0;
                    for (int k = 0, at = row + start[x], wk = x * taps; k < taps; k++) v += flat[wk + k] * columns[at + k];
                    out[o + (mirror ? dw - 1 - x : x)] = v;
                }
            }
        }
    }

    /**
     * Output i's weights {@code weight[i]} for source positions {@code first[i]} onwards; and the
     * same with one number of taps for all (the most any output has): output i's {@code taps}
     * weights at {@code flat[i·taps]} for positions {@code start[i]} onwards, padded with zeros,
     * the window moved left where it would pass the end.
     */
    record Weights(int[] first, int[] count, float[][] weight, int taps, int[] start, float[] flat) {
    }

    /** Each thread's weights of the sizes it met last (a folder's images mostly share a few sizes). */
    private static final ThreadLocal<Map<Long, Weights>> WEIGHTS = ThreadLocal.withInitial(() -> new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Weights> eldest) {
            return size() > 64;
        }
    });

    /** {@link #filter}, from this thread's cache. */
    private static Weights weights(int n, int m) {
        return WEIGHTS.get().computeIfAbsent((long) n << 32 | m, k -> filter(n, m));
    }

    /**
     * PIL's resampling weights for the bilinear (triangle) filter, from n source to m output
     * positions: output i is centred at (i + ½)·n/m; the triangle's support is 1 source pixel,
     * widened to n/m when shrinking; the weights of each output sum to 1.
     */
    static Weights filter(int n, int m) {
        double scale = (double) n / m, support = Math.max(scale, 1);
        int[] first = new int[m], count = new int[m];
        float[][] weight = new float[m][];
        for (int i = 0; i < m; i++) {
            double centre = (i + 0.5) * scale;
            int lo = Math.max(0, (int) (centre - support + 0.5)), hi = Math.min(n, (int) (centre + support + 0.5));
            double[] ws = new double[hi - lo];
            double total = 0;
            for (int j = lo; j < hi; j++) {
                double t = Math.abs((j - centre + 0.5) / support);
                ws[j - lo] = t < 1 ? 1 - t : 0;
                total += ws[j - lo];
            }
            int a = 0, b = ws.length; // taps of weight 0 at either end cost time and add nothing
            while (b - a > 1 && ws[a] == 0) a++;
            while (b - a > 1 && ws[b - 1] == 0) b--;
            first[i] = lo + a;
            count[i] = b - a;
            weight[i] = new float[b - a];
            for (int k = a; k < b; k++) weight[i][k - a] = (float) (ws[k] / total);
        }
        int taps = 1;
        for (int c : count) taps = Math.max(taps, c);
        int[] start = new int[m];
        float[] flat = new float[m * taps];
        for (int i = 0; i < m; i++) {
            start[i] = Math.max(0, Math.min(first[i], n - taps));
            System.arraycopy(weight[i], 0, flat, i * taps + first[i] - start[i], count[i]);
        }
        return new Weights(first, count, weight, taps, start, flat);
    }

    /**
     * One colour of PIL's convert("RGB") of a CMYK JPEG, from the samples as stored: inverted, as
     * Adobe stores CMYK and Pillow assumes of every CMYK JPEG (YCCK decodes to the same form). With
     * the ink c' = 255 − stored and the black k' = 255 − storedBlack: nk − c'·nk/255 (rounded as
     * Pillow's MULDIV255), nk = 255 − k'. No colour profile is applied, as Pillow applies none.
     */
    static int cmykToRgb(int storedInk, int storedBlack) {
        int ink = 255 - storedInk, nk = storedBlack, t = ink * nk + 128;
        return Math.max(0, Math.min(255, nk - (((t >> 8) + t) >> 8)));
    }

    /** PIL's convert("L"): L = R·299/1000 + G·587/1000 + B·114/1000, in its fixed-point form, rounded. */
    static int luma(int r, int g, int b) {
        return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }
}
