package org.cnn4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import javax.imageio.ImageIO;

import org.cnn4j.io.FileFormatException;
import org.cnn4j.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Image folders read as torchvision's ImageFolder reads them, and images resized as its
 * Resize + CenterCrop do on Pillow (fixtures from scripts/image-fixtures.py).
 */
class ImageFolderTest {
    @TempDir
    Path dir;

    /** Writes the generated shapes as grey PNGs, one folder per class, under root. */
    private static Dataset writeShapes(Path root, int n, long seed) throws IOException {
        Dataset d = SyntheticShapes.generate(n, 1, 28, 3, seed);
        for (int i = 0; i < d.size(); i++) {
            BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            byte[] px = d.pixels(i);
            image.getRaster().setDataElements(0, 0, 28, 28, px);
            Path folder = root.resolve(d.classNames().get(d.labels()[i]));
            Files.createDirectories(folder);
            ImageIO.write(image, "png", folder.resolve(String.format("%04d.png", i)).toFile());
        }
        return d;
    }

    @Test
    void aSplitFolderReadsBackEveryPixelAndLabel() throws IOException {
        Dataset train = writeShapes(dir.resolve("train"), 60, 1), val = writeShapes(dir.resolve("val"), 20, 2);
        Files.writeString(dir.resolve("train").resolve(train.classNames().get(0)).resolve("notes.txt"), "not an image");
        Files.writeString(dir.resolve("train").resolve(train.classNames().get(0)).resolve(".hidden.png"), "not read");
        assertTrue(ImageFolder.looksLike(dir));
        Datasets.Split split = ImageFolder.open(dir, Shape.of(1, 28, 28), 0.1, 7, Images.DEFAULT_MAX_PIXELS);
        List<String> sorted = train.classNames().stream().sorted().toList();
        assertEquals(sorted, split.train().classNames(), "class names sorted, as torchvision");
        assertEquals(60, split.train().size());
        assertEquals(20, split.test().size());
        // files are read class by class in name order: sample 0 of each class is its lowest-numbered file
        for (Dataset[] pair : new Dataset[][] {{train, split.train()}, {val, split.test()}}) {
            Dataset written = pair[0], read = pair[1];
            int at = 0;
            for (String name : sorted) {
                int writtenClass = written.classNames().indexOf(name);
                for (int i = 0; i < written.size(); i++) {
                    if (written.labels()[i] != writtenClass) continue;
                    assertEquals(sorted.indexOf(name), read.labels()[at]);
                    assertArrayEquals(written.pixels(i), read.pixels(at), "image " + i + " of " + name);
                    at++;
                }
            }
        }
    }

    @Test
    void anUnsplitFolderHoldsOutASeededShareOfEachClass() throws IOException {
        writeShapes(dir, 90, 3);
        Datasets.Split a = ImageFolder.open(dir, Shape.of(1, 28, 28), 0.2, 5, Images.DEFAULT_MAX_PIXELS);
        Datasets.Split b = ImageFolder.open(dir, Shape.of(1, 28, 28), 0.2, 5, Images.DEFAULT_MAX_PIXELS);
        assertEquals(90, a.train().size() + a.test().size());
        int[] perClass = new int[3], heldOut = new int[3];
        for (int y : a.train().labels()) perClass[y]++;
        for (int y : a.test().labels()) heldOut[y]++;
        for (int c = 0; c < 3; c++) {
            assertEquals(Math.round(0.2 * (perClass[c] + heldOut[c])), heldOut[c], "a fifth of class " + c + " held out");
        }
        assertArrayEquals(a.test().images(a.test().statistics()), b.test().images(b.test().statistics()), "the same seed, the same split");
        Datasets.Split other = ImageFolder.open(dir, Shape.of(1, 28, 28), 0.2, 6, Images.DEFAULT_MAX_PIXELS);
        assertTrue(!Arrays.equals(a.test().labels(), other.test().labels()) || !Arrays.equals(a.test().pixels(0), other.test().pixels(0)),
                "another seed, another split");
        Dataset alone = ImageFolder.openHeldOut(dir, ImageFolder.Options.of(Preprocessing.of(Shape.of(1, 28, 28))).split(0.2, 5));
        assertArrayEquals(a.test().labels(), alone.labels(), "the held-out images alone, without decoding the others");
        for (int i = 0; i < alone.size(); i++) assertArrayEquals(a.test().pixels(i), alone.pixels(i));
        Datasets.Split opened = Datasets.open(dir.toString(), 5, Shape.of(1, 28, 28));
        assertEquals(90, opened.train().size() + opened.test().size(), "Datasets.open takes an image folder too");
        assertTrue(opened.test().size() < a.test().size(), "with the default share of a tenth");
    }

    /**
     * The same images as IDX files and as PNGs listed by CSV manifests in the IDX files' order, with
     * the labels as numbers: the same datasets, and training on them gives the same weights, bit for
     * bit (the manifests keep the sample order, which a folder per class would not).
     */
    @Test
    void pngsListedInIdxOrderTrainExactlyAsTheIdxFiles() throws IOException {
        Dataset train = SyntheticShapes.generate(96, 1, 28, 10, 11), test = SyntheticShapes.generate(32, 1, 28, 10, 12);
        Path idx = dir.resolve("idx"), pngs = dir.resolve("pngs");
        Files.createDirectories(idx);
        Files.createDirectories(pngs.resolve("images"));
        for (Object[] part : new Object[][] {{"train", train}, {"t10k", test}}) {
            Dataset d = (Dataset) part[1];
            byte[] images = new byte[d.size() * 784], labels = new byte[d.size()];
            StringBuilder csv = new StringBuilder("path,label\n");
            for (int i = 0; i < d.size(); i++) {
                System.arraycopy(d.pixels(i), 0, images, i * 784, 784);
                labels[i] = (byte) d.label(i);
                BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                image.getRaster().setDataElements(0, 0, 28, 28, d.pixels(i));
                String file = "images/" + part[0] + "-" + i + ".png";
                ImageIO.write(image, "png", pngs.resolve(file).toFile());
                csv.append(file).append(',').append(d.label(i)).append('\n');
            }
            Files.write(idx.resolve(part[0] + "-images-idx3-ubyte"), DatasetFilesTest.idx(new int[] {d.size(), 28, 28}, images));
            Files.write(idx.resolve(part[0] + "-labels-idx1-ubyte"), DatasetFilesTest.idx(new int[] {d.size()}, labels));
            Files.writeString(pngs.resolve(part[0].equals("train") ? "train.csv" : "test.csv"), csv);
        }
        Datasets.Split fromIdx = Datasets.open(idx.toString(), 1), fromPngs = Datasets.open(pngs.toString(), 1);
        assertEquals(fromIdx.train().classNames(), fromPngs.train().classNames(), "the classes 0 to 9, in numeric order");
        for (Dataset[] pair : new Dataset[][] {{fromIdx.train(), fromPngs.train()}, {fromIdx.test(), fromPngs.test()}}) {
            assertArrayEquals(pair[0].labels(), pair[1].labels());
            for (int i = 0; i < pair[0].size(); i++) assertArrayEquals(pair[0].pixels(i), pair[1].pixels(i), "image " + i);
        }
        float[][] weights = new float[2][];
        for (int k = 0; k < 2; k++) {
            Datasets.Split split = k == 0 ? fromIdx : fromPngs;
            try (org.cnn4j.model.Model m = org.cnn4j.model.Models.fmnistCnn().seed(4).build(org.cnn4j.testing.Backends.CPU)) {
                new org.cnn4j.train.Trainer(m, new org.cnn4j.optim.Sgd(0.05).momentum(0.9), org.cnn4j.train.Trainer.Options.of(1, 16).seed(2))
                        .fit(split.train(), split.test());
                weights[k] = m.parameters().get(0).value().toFloatArray();
            }
        }
        assertArrayEquals(weights[0], weights[1], "the first convolution's weights after an epoch, bit for bit");
    }

    /** Counts the sets read from their files (not from a cache) and the images read. */
    private static final class Counting implements ImageFolder.Listener {
        final List<String> sets = new java.util.concurrent.CopyOnWriteArrayList<>();
        final java.util.concurrent.atomic.AtomicInteger images = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public void started(String name, int count) {
            sets.add(name);
        }

        @Override
        public void imageRead() {
            images.incrementAndGet();
        }

        @Override
        public void finished(String name) {
        }
    }

    private static void assertSameSets(Datasets.Split expected, Datasets.Split actual) {
        for (Dataset[] pair : new Dataset[][] {{expected.train(), actual.train()}, {expected.test(), actual.test()}}) {
            assertArrayEquals(pair[0].labels(), pair[1].labels());
            for (int i = 0; i < pair[0].size(); i++) assertArrayEquals(pair[0].pixels(i), pair[1].pixels(i), "image " + i);
        }
    }

    private static List<Path> caches(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(ImageCache.SUFFIX)).sorted().toList();
        }
    }

    /**
     * Sets beyond the memory limit are decoded into cache files and read mapped: the same images and
     * labels as in memory; the next read finds them without decoding; a changed image rebuilds its
     * set's cache (and removes the outdated file); a damaged cache file is rebuilt, not trusted.
     */
    @Test
    void setsBeyondTheMemoryLimitAreCachedInFilesAndReused() throws IOException {
        Path images = dir.resolve("images"), cache = dir.resolve("cache");
        writeShapes(images, 40, 21);
        ImageFolder.Options inMemory = ImageFolder.Options.of(Preprocessing.of(Shape.of(1, 20, 20))).split(0.25, 3);
        Datasets.Split expected = ImageFolder.open(images, inMemory);
        Counting first = new Counting();
        assertSameSets(expected, ImageFolder.open(images, inMemory.cache(cache, 0).listener(first)));
        assertEquals(List.of("images-train", "images-val"), first.sets);
        assertEquals(40, first.images.get());
        List<Path> files = caches(cache);
        assertEquals(2, files.size(), files.toString());
        assertEquals(40L * 400, Files.size(files.get(0)) + Files.size(files.get(1)) - 2 * 8 - headers(files), "the pixels, the headers, the trailers");

        Counting again = new Counting();
        assertSameSets(expected, ImageFolder.open(images, inMemory.cache(cache, 0).listener(again)));
        assertEquals(List.of(), again.sets, "read from the cache files, nothing decoded");

        Path changed;
        try (java.util.stream.Stream<Path> pngs = Files.walk(images)) {
            changed = pngs.filter(p -> p.toString().endsWith(".png")).sorted().findFirst().orElseThrow();
        }
        BufferedImage white = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        white.getGraphics().fillRect(0, 0, 28, 28);
        ImageIO.write(white, "png", changed.toFile());
        Files.setLastModifiedTime(changed, java.nio.file.attribute.FileTime.fromMillis(Files.getLastModifiedTime(changed).toMillis() + 5000));
        Counting rebuilt = new Counting();
        Datasets.Split afterChange = ImageFolder.open(images, inMemory.cache(cache, 0).listener(rebuilt));
        assertEquals(1, rebuilt.sets.size(), "only the set holding the changed image: " + rebuilt.sets);
        assertSameSets(ImageFolder.open(images, inMemory), afterChange);
        assertEquals(2, caches(cache).size(), "the outdated cache file removed");

        List<Path> now = caches(cache);
        byte[] bytes = Files.readAllBytes(now.get(0));
        bytes[bytes.length - 1] ^= 0x55; // the trailer's magic number
        Files.write(now.get(0), bytes);
        bytes = Files.readAllBytes(now.get(1));
        java.nio.ByteBuffer.wrap(bytes).putInt(bytes.length - 8, Integer.MAX_VALUE); // a header longer than the file
        Files.write(now.get(1), bytes);
        Counting repaired = new Counting();
        assertSameSets(afterChange, ImageFolder.open(images, inMemory.cache(cache, 0).listener(repaired)));
        assertEquals(2, repaired.sets.size(), "damaged caches are rebuilt");

        String refused = assertThrows(FileFormatException.class, () -> ImageFolder.open(images, inMemory.cache(null, 0))).getMessage();
        assertTrue(refused.contains("more than the memory limit (0 MiB") && refused.contains("no folder for a cache file"), refused);
    }

    /** The header lengths of cache files (from their trailers). */
    private static long headers(List<Path> files) throws IOException {
        long total = 0;
        for (Path f : files) {
            byte[] b = Files.readAllBytes(f);
            total += java.nio.ByteBuffer.wrap(b, b.length - 8, 4).getInt();
        }
        return total;
    }

    /** A cache built while skipping bad images remembers them: listed again when skipping, refused by name when not. */
    @Test
    void aCacheRemembersTheImagesItLeftOut() throws IOException {
        Path images = dir.resolve("images"), cache = dir.resolve("cache");
        writeShapes(images, 12, 22);
        Path broken = images.resolve("vertical").resolve("zz-broken.png");
        Files.createDirectories(broken.getParent());
        Files.write(broken, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0});
        ImageFolder.Options o = ImageFolder.Options.of(Preprocessing.of(Shape.of(1, 28, 28))).split(0.25, 3).cache(cache, 0);
        List<Path> skipped = new java.util.ArrayList<>(), again = new java.util.ArrayList<>();
        Datasets.Split first = ImageFolder.open(images, o.skipBadImages(skipped));
        assertEquals(List.of(broken), skipped);
        Counting counting = new Counting();
        Datasets.Split second = ImageFolder.open(images, o.skipBadImages(again).listener(counting));
        assertEquals(List.of(), counting.sets, "from the cache");
        assertEquals(List.of(broken), again);
        assertSameSets(first, second);
        assertEquals(12, first.train().size() + first.test().size());
        String m = assertThrows(FileFormatException.class, () -> ImageFolder.open(images, o)).getMessage();
        assertTrue(m.contains("zz-broken.png") && m.contains("cannot be decoded"), m);
    }

    @Test
    void undecodableImagesAreSkippedAndListedWhenAsked() throws IOException {
        writeShapes(dir, 30, 13);
        Path broken = dir.resolve("vertical").resolve("zz-broken.png"), truncated = dir.resolve("horizontal").resolve("zz-cut.png");
        Files.write(broken, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0});
        try (java.util.stream.Stream<Path> pngs = Files.list(dir.resolve("horizontal"))) {
            byte[] whole = Files.readAllBytes(pngs.filter(p -> !p.equals(truncated)).sorted().findFirst().orElseThrow());
            Files.write(truncated, Arrays.copyOf(whole, whole.length / 2));
        }
        assertThrows(FileFormatException.class, () -> ImageFolder.open(dir, Shape.of(1, 28, 28), 0.2, 1, Images.DEFAULT_MAX_PIXELS));
        List<Path> skipped = new java.util.ArrayList<>();
        Datasets.Split split = ImageFolder.open(dir, Shape.of(1, 28, 28), 0.2, 1, Images.DEFAULT_MAX_PIXELS, skipped);
        assertEquals(List.of(truncated, broken).stream().sorted().toList(), skipped.stream().sorted().toList());
        assertEquals(30, split.train().size() + split.test().size(), "the 30 good images, none of the 2 bad ones");
    }

    @Test
    void manifestsNameTheirBadRows() throws IOException {
        writeShapes(dir.resolve("imgs"), 6, 8);
        Path csv = dir.resolve("list.csv");
        String any;
        try (java.util.stream.Stream<Path> files = Files.walk(dir.resolve("imgs"))) {
            any = dir.relativize(files.filter(p -> p.toString().endsWith(".png")).findFirst().orElseThrow()).toString();
        }
        Files.writeString(csv, any + ",cat\nimgs/missing.png,dog\n");
        String m = assertThrows(FileFormatException.class, () -> ImageFolder.open(csv, Shape.of(1, 28, 28), 0.5, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("list.csv") && m.contains("row 2: no such file"), m);
        Files.writeString(csv, any + ",cat,extra\n");
        m = assertThrows(FileFormatException.class, () -> ImageFolder.open(csv, Shape.of(1, 28, 28), 0.5, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("row 1 has 3 fields"), m);
    }

    /**
     * Pillow's Resize(size) + CenterCrop(size) after convert("L") or convert("RGB"), and Resize(n) +
     * CenterCrop(size) for a larger n (upscaling and downscaling), to ±1 (Pillow rounds between its
     * two passes).
     */
    @Test
    void resizingAndGreyMatchPillow() throws IOException {
        BufferedImage image;
        try (InputStream in = getClass().getResourceAsStream("/images/rgb-37x23.png")) {
            image = ImageIO.read(in);
        }
        String fixtures;
        try (InputStream in = getClass().getResourceAsStream("/images/pil-resize.txt")) {
            fixtures = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        int cases = 0;
        for (String line : fixtures.split("\n")) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String[] f = line.trim().split(" ");
            int c = f[0].equals("L") ? 1 : 3, size = Integer.parseInt(f[1]), resize = Integer.parseInt(f[2]);
            byte[] out = new byte[c * size * size];
            if (resize == 0) {
                ImageFolder.pixelsOf(image, c, size, size, out, 0);
            } else {
                ImageFolder.pixelsOf(image, new Preprocessing(Shape.of(c, size, size), resize), out, 0);
            }
            int worst = 0;
            for (int i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs((out[i] & 0xFF) - Integer.parseInt(f[3 + i])));
            assertTrue(worst <= 1, f[0] + " at " + size + " after " + resize + ": off by " + worst);
            cases++;
        }
        assertEquals(6, cases);
    }

    /**
     * Every format and colour type read (RGB, RGBA, grey, grey with alpha, palette, 16-bit grey and
     * 16-bit RGB PNGs; BMP; GIF; baseline, progressive, grey, CMYK and YCCK JPEGs), converted to RGB
     * and to grey, against Pillow's decoding of the same files: exact for the lossless formats (16-bit
     * samples keep their high byte: Pillow's for RGB; its grey clips instead, so there the expected
     * values are the samples' high bytes); JPEGs within 1 (the decoders' inverse DCTs and colour
     * conversions may round apart: CMYK and YCCK differ by 1 here, the rest agree exactly).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "TurboJPEG {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void everyFormatAndColourTypeDecodesAsPillow(boolean turbo) throws IOException {
        Images.turboJpeg = turbo; // where the library is missing, both runs go to ImageIO
        try {
            decodesAsPillow();
        } finally {
            Images.turboJpeg = true;
        }
    }

    private void decodesAsPillow() throws IOException {
        String fixtures;
        try (InputStream in = getClass().getResourceAsStream("/images/pil-decode.txt")) {
            fixtures = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
        int files = 0;
        for (String line : fixtures.split("\n")) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String name = line.substring(0, line.indexOf(' '));
            String[] halves = line.substring(name.length() + 1).split(" \\| ");
            Path file = dir.resolve(name);
            try (InputStream in = getClass().getResourceAsStream("/images/" + name)) {
                Files.copy(in, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            int tolerance = name.endsWith(".jpg") ? 1 : 0;
            for (int c : new int[] {3, 1}) {
                String[] expected = halves[c == 3 ? 0 : 1].trim().split(" ");
                byte[] out = new byte[c * 10 * 12];
                ImageFolder.pixelsOf(Images.read(file, 12, 10, Images.DEFAULT_MAX_PIXELS), c, 10, 12, out, 0);
                assertEquals(expected.length, out.length, name);
                int worst = 0;
                for (int i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs((out[i] & 0xFF) - Integer.parseInt(expected[i])));
                assertTrue(worst <= tolerance, name + " as " + (c == 3 ? "RGB" : "L") + ": off by " + worst);
            }
            files++;
        }
        assertEquals(14, files);
    }

    /** The frame header's component count picks the reader: 4 (CMYK, YCCK), 3, 1; -1 for no JPEG or a header cut short. */
    @Test
    void jpegComponentsAreReadFromTheFrameHeader() throws IOException {
        for (Object[] c : new Object[][] {{"cmyk.jpg", 4}, {"ycck.jpg", 4}, {"rgb.jpg", 3}, {"progressive.jpg", 3}, {"l.jpg", 1}, {"rgb.png", -1}}) {
            byte[] bytes;
            try (InputStream in = getClass().getResourceAsStream("/images/" + c[0])) {
                bytes = in.readAllBytes();
            }
            assertEquals(c[1], components(bytes), (String) c[0]);
            if (c[1].equals(4)) assertEquals(-1, components(Arrays.copyOf(bytes, 40)), c[0] + " cut before its frame header");
        }
    }

    private static int components(byte[] bytes) throws IOException {
        try (javax.imageio.stream.ImageInputStream in = new javax.imageio.stream.MemoryCacheImageInputStream(new java.io.ByteArrayInputStream(bytes))) {
            int n = Images.jpegComponents(in);
            assertEquals(0, in.getStreamPosition(), "left at the start");
            return n;
        }
    }

    @Test
    void lumaIsPillows() {
        assertEquals(0, ImageFolder.luma(0, 0, 0));
        assertEquals(255, ImageFolder.luma(255, 255, 255));
        assertEquals(76, ImageFolder.luma(255, 0, 0)); // Pillow: Image.new("RGB", (1, 1), (255, 0, 0)).convert("L") -> 76
        assertEquals(150, ImageFolder.luma(0, 255, 0));
        assertEquals(29, ImageFolder.luma(0, 0, 255));
    }

    @Test
    void aClassFolderWhoseNameJavaCannotDecodeIsRefused() throws IOException, InterruptedException {
        writeShapes(dir, 12, 4);
        // "café" in Latin-1: a byte (0xE9) that no UTF-8 reading accepts, nor the POSIX locale's ASCII
        Process mkdir = new ProcessBuilder("sh", "-c", "mkdir \"$1/$(printf 'caf\\351')\" && cp \"$2\" \"$1/$(printf 'caf\\351')/a.png\"", "sh",
                dir.toString(), Files.list(dir.resolve("horizontal")).findFirst().orElseThrow().toString()).inheritIO().start();
        assertEquals(0, mkdir.waitFor());
        String m = assertThrows(FileFormatException.class, () -> ImageFolder.open(dir, Shape.of(1, 28, 28), 0.1, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("caf\uFFFD") && m.contains("not valid in Java's file-name encoding (" + System.getProperty("sun.jnu.encoding"))
                && m.contains("LC_ALL=C.UTF-8"), m);
    }

    @Test
    void badFoldersAndFilesAreNamed() throws IOException {
        writeShapes(dir, 12, 4);
        Path empty = dir.resolve("zebra");
        Files.createDirectories(empty);
        String m = assertThrows(FileFormatException.class, () -> ImageFolder.open(dir, Shape.of(1, 28, 28), 0.1, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("zebra") && m.contains("a class folder without image files"), m);
        Files.delete(empty);

        Path broken = dir.resolve("horizontal").resolve("broken.png");
        Files.createDirectories(broken.getParent());
        Files.write(broken, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0});
        m = assertThrows(FileFormatException.class, () -> ImageFolder.open(dir, Shape.of(1, 28, 28), 0.1, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("broken.png"), m);
        Files.delete(broken);

        Path split = dir.resolve("split");
        writeShapes(split.resolve("train"), 9, 5);
        writeShapes(split.resolve("test"), 9, 6);
        Files.createDirectories(split.resolve("test").resolve("extra"));
        Files.copy(Files.list(split.resolve("test").resolve("horizontal")).findFirst().orElseThrow(), split.resolve("test").resolve("extra").resolve("a.png"));
        m = assertThrows(FileFormatException.class, () -> ImageFolder.open(split, Shape.of(1, 28, 28), 0.1, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("differ from those of") && m.contains("extra"), m);

        String tooBig = assertThrows(FileFormatException.class,
                () -> ImageFolder.open(dir, Shape.of(3, 16384, 16384), 0.1, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(tooBig.contains("images of (3, 16384, 16384) take") && tooBig.contains("--image-size"), tooBig);

        Path singles = dir.resolve("singles");
        writeShapes(singles, 30, 21);
        try (java.util.stream.Stream<Path> all = Files.walk(singles)) {
            List<Path> pngs = all.filter(p -> p.toString().endsWith(".png")).sorted().toList();
            for (int i = 1; i < pngs.size(); i++) if (Files.list(pngs.get(i).getParent()).count() > 1) Files.delete(pngs.get(i));
        }
        Datasets.Split one = ImageFolder.open(singles, Shape.of(1, 28, 28), 0.5, 1, Images.DEFAULT_MAX_PIXELS);
        assertEquals(0, one.test().size(), "a class of one image holds none out");

        Path lonely = dir.resolve("lonely");
        Files.createDirectories(lonely.resolve("only"));
        m = assertThrows(FileFormatException.class, () -> ImageFolder.open(lonely, Shape.of(1, 28, 28), 0.1, 1, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("one folder per class (at least two)"), m);
    }
}
