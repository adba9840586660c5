package org.cnn4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.cnn4j.io.FileFormatException;
import org.cnn4j.tensor.Shape;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * JPEG decoding through libturbojpeg. Skipped where the library is not installed (CI installs
 * Debian's libturbojpeg0); where its file is present, failing to load it is a failure.
 */
class TurboJpegTest {
    private static final Path TURBOJPEG = Path.of("/usr/lib/x86_64-linux-gnu/libturbojpeg.so.0");

    @BeforeAll
    static void libraryLoadsWhereInstalled() {
        if (Files.exists(TURBOJPEG)) assertTrue(TurboJpeg.available(), TURBOJPEG + " is installed but did not load");
        assumeTrue(TurboJpeg.available(), "libturbojpeg is not installed");
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = TurboJpegTest.class.getResourceAsStream("/images/" + name)) {
            return in.readAllBytes();
        }
    }

    private static String text(String name) throws IOException {
        return new String(resource(name), StandardCharsets.US_ASCII);
    }

    /** Decoded in full, TurboJPEG's pixels are Pillow's exactly (Pillow decodes with the same library and settings). */
    @Test
    void fullSizeDecodingIsPillowsExactly() throws IOException {
        int files = 0;
        for (String line : text("pil-decode.txt").split("\n")) {
            String name = line.isBlank() || line.startsWith("#") ? "" : line.substring(0, line.indexOf(' '));
            if (!name.endsWith(".jpg") || name.startsWith("cmyk") || name.startsWith("ycck")) continue;
            String[] rgb = line.substring(name.length() + 1).split(" \\| ")[0].trim().split(" ");
            BufferedImage image = TurboJpeg.decode(Path.of(name), resource(name), 12, 10, Images.DEFAULT_MAX_PIXELS);
            assertEquals(12, image.getWidth(), name);
            byte[] out = new byte[3 * 12 * 10];
            ImageFolder.pixelsOf(image, 3, 10, 12, out, 0);
            for (int i = 0; i < out.length; i++) assertEquals(Integer.parseInt(rgb[i]), out[i] & 0xFF, name + " value " + i);
            files++;
        }
        assertEquals(3, files, "baseline, progressive and grey");
    }

    /**
     * A 96×64 JPEG read at 16×16 is decoded at half size in the DCT (48×32, still twice the
     * target), then resized: against Pillow's full decoding and resize, every value within 3 and
     * the mean within 0.75 (a half-size inverse DCT is a low-pass of its own, close to the
     * bilinear filter's; decoded in full the two agree exactly; here: 2 and 0.28).
     */
    @Test
    void scaledDecodingStaysCloseToPillowsFullDecoding() throws IOException {
        BufferedImage scaled = TurboJpeg.decode(Path.of("photo"), resource("photo-96x64.jpg"), 16, 16, Images.DEFAULT_MAX_PIXELS);
        assertEquals(48, scaled.getWidth(), "half size: the smallest scaling that leaves 2 × 16 on each side");
        assertEquals(32, scaled.getHeight());
        byte[] out = new byte[3 * 16 * 16];
        ImageFolder.pixelsOf(scaled, 3, 16, 16, out, 0);
        String[] expected = text("pil-photo.txt").lines().filter(l -> !l.startsWith("#")).findFirst().orElseThrow().trim().split(" ");
        int worst = 0;
        double sum = 0;
        for (int i = 0; i < out.length; i++) {
            int d = Math.abs((out[i] & 0xFF) - Integer.parseInt(expected[i]));
            worst = Math.max(worst, d);
            sum += d;
        }
        assertTrue(worst <= 3 && sum / out.length <= 0.75, "off by " + worst + " at most, " + sum / out.length + " on average");
    }

    @Test
    void cmykIsLeftToImageIoAndDamageIsNamed() throws IOException {
        assertNull(TurboJpeg.decode(Path.of("cmyk.jpg"), resource("cmyk.jpg"), 12, 10, Images.DEFAULT_MAX_PIXELS), "CMYK goes to ImageIO");
        byte[] photo = resource("photo-96x64.jpg");
        String m = assertThrows(FileFormatException.class,
                () -> TurboJpeg.decode(Path.of("cut.jpg"), Arrays.copyOf(photo, photo.length * 2 / 3), 96, 64, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("cut.jpg") && m.contains("truncated or corrupt image"), m);
        m = assertThrows(FileFormatException.class,
                () -> TurboJpeg.decode(Path.of("big.jpg"), photo, 96, 64, 96 * 64 - 1)).getMessage();
        assertTrue(m.contains("the header claims 96×64 = 6144 pixels, more than the limit of 6143"), m);
        m = assertThrows(FileFormatException.class, () -> TurboJpeg.decode(Path.of("junk.jpg"), new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 1, 2, 3},
                96, 64, Images.DEFAULT_MAX_PIXELS)).getMessage();
        assertTrue(m.contains("junk.jpg"), m);
    }

    /** Through an image folder, a JPEG at its own size reads as Pillow reads it, whichever decoder runs. */
    @Test
    void anImageFolderReadsJpegsThroughIt(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        for (String c : new String[] {"a", "b"}) {
            Files.createDirectories(dir.resolve(c));
            Files.write(dir.resolve(c).resolve("photo.jpg"), resource("rgb.jpg"));
        }
        Datasets.Split split = ImageFolder.open(dir, ImageFolder.Options.of(Preprocessing.of(Shape.of(3, 10, 12))).split(0.5, 1));
        String[] rgb = text("pil-decode.txt").lines().filter(l -> l.startsWith("rgb.jpg ")).findFirst().orElseThrow()
                .substring(8).split(" \\| ")[0].trim().split(" ");
        byte[] got = split.train().pixels(0);
        for (int i = 0; i < got.length; i++) assertEquals(Integer.parseInt(rgb[i]), got[i] & 0xFF, "value " + i);
    }
}
