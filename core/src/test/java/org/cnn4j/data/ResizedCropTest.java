package org.cnn4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.cnn4j.tensor.Shape;
import org.junit.jupiter.api.Test;

class ResizedCropTest {
    private static String resource(String name) throws IOException {
        try (InputStream in = ResizedCropTest.class.getResourceAsStream("/images/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    /**
     * Windows of a 16×16 RGB image resized back to 16×16, against torchvision's {@code resized_crop}
     * on the same 8-bit image (Pillow's bilinear filter): within 1, as Pillow rounds to 8 bits
     * between its horizontal and vertical passes and this resampling keeps floats.
     */
    @Test
    void windowsAreResizedAsTorchvisionResizesThem() throws IOException {
        float[] image = null;
        for (String line : resource("pil-resize.txt").split("\n")) {
            if (line.startsWith("RGB 16 0 ")) {
                String[] f = line.substring(9).trim().split(" ");
                image = new float[f.length];
                for (int i = 0; i < f.length; i++) image[i] = Integer.parseInt(f[i]);
            }
        }
        assertEquals(3 * 16 * 16, image.length);
        int cases = 0;
        for (String line : resource("torchvision-resized-crop.txt").split("\n")) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String[] f = line.trim().split(" ");
            ResizedCrop.Box box = new ResizedCrop.Box(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]));
            float[] x = new float[5 + image.length];
            java.util.Arrays.fill(x, Float.NaN); // poison around the image: nothing outside it may be read or written
            System.arraycopy(image, 0, x, 5, image.length);
            ResizedCrop.apply(x, 5, 3, 16, 16, box);
            double worst = 0;
            for (int i = 0; i < image.length; i++) worst = Math.max(worst, Math.abs(x[5 + i] - Integer.parseInt(f[4 + i])));
            assertTrue(worst <= 1, box + ": off by " + worst);
            for (int i = 0; i < 5; i++) assertTrue(Float.isNaN(x[i]), "written before the image");
            cases++;
        }
        assertEquals(5, cases);
    }

    /**
     * The windows' distribution is torchvision's {@code RandomResizedCrop.get_params}: over 20,000
     * draws, the mean share of the area and mean log aspect ratio that torchvision 0.14 gave
     * (torch.manual_seed(0), 20,000 draws each; their standard errors are about 0.002), and the
     * fallback to the largest centred window when no try fits (a 64×8 image at scale ≥ ½: 11×8).
     */
    @Test
    void windowsAreDrawnAsTorchvisionDrawsThem() {
        double[][] cases = {{32, 32, 0.08, 0.487739, 0.001534}, {224, 224, 0.35, 0.617237, -0.000742}};
        for (double[] c : cases) {
            int w = (int) c[0], h = (int) c[1];
            ResizedCrop crop = ResizedCrop.scale(c[2]);
            double area = 0, logRatio = 0;
            int n = 20_000;
            for (int k = 0; k < n; k++) {
                ResizedCrop.Box b = crop.box(h, w, k * 7919L + 13);
                assertTrue(b.top() >= 0 && b.left() >= 0 && b.height() >= 1 && b.width() >= 1
                        && b.top() + b.height() <= h && b.left() + b.width() <= w, b + " inside " + w + "×" + h);
                area += (double) b.height() * b.width() / (w * h);
                logRatio += Math.log((double) b.width() / b.height());
            }
            assertEquals(c[3], area / n, 0.01, "mean share of the area at " + w + "×" + h);
            assertEquals(c[4], logRatio / n, 0.01, "mean log aspect ratio at " + w + "×" + h);
        }
        assertEquals(new ResizedCrop.Box(0, 26, 8, 11), ResizedCrop.scale(0.5).box(8, 64, 3), "no try fits: the centred 4:3 window");
        assertEquals(new ResizedCrop.Box(4, 0, 8, 16), new ResizedCrop(1, 1, 2, 3).box(16, 16, 3), "too square: the centred 2:1 window");
        assertEquals(ResizedCrop.DEFAULT.box(40, 30, 99), ResizedCrop.DEFAULT.box(40, 30, 99), "the same key, the same window");
        assertThrows(IllegalArgumentException.class, () -> ResizedCrop.scale(0));
        assertThrows(IllegalArgumentException.class, () -> new ResizedCrop(0.5, 1, 2, 1));
    }

    /**
     * Resizing a window cut out of the dataset (what the loader does) gives what resizing it in the
     * whole normalised image gives, bit for bit, and mirrored when asked.
     */
    @Test
    void aCutWindowResizesAsTheWholeImage() {
        Dataset data = SyntheticShapes.generate(6, 3, 20, 3, 8);
        float[][] table = new Normalization(new double[] {0.1, 0.2, 0.3}, new double[] {0.5, 0.6, 0.7}).table();
        int size = 3 * 20 * 20;
        for (int k = 0; k < 30; k++) {
            int sample = k % 6;
            ResizedCrop.Box box = ResizedCrop.DEFAULT.box(20, 20, 1000 + k);
            float[] whole = new float[size];
            data.copyImages(whole, 0, sample, sample + 1, table);
            ResizedCrop.apply(whole, 0, 3, 20, 20, box);
            float[] window = new float[3 * box.height() * box.width()], cut = new float[size], mirrored = new float[size];
            data.copyWindow(sample, box.top(), box.left(), box.height(), box.width(), table, window);
            ResizedCrop.resize(window, 3, box, 20, 20, false, cut, 0);
            ResizedCrop.resize(window, 3, box, 20, 20, true, mirrored, 0);
            assertArrayEquals(whole, cut, box.toString());
            for (int i = 0; i < size; i++) assertEquals(whole[i], mirrored[i - i % 20 + 19 - i % 20], box + " mirrored at " + i);
        }
    }

    /** With flips, each image is the same crop as without, mirrored or not (both happen). */
    @Test
    void flipsMirrorTheSameCrops() {
        Dataset data = SyntheticShapes.generate(64, 1, 12, 3, 5);
        int[] order = DataLoader.of(data, 64).shuffle(3).order(1);
        float[] plain = DataLoader.of(data, 64).shuffle(3).randomResizedCrop(ResizedCrop.DEFAULT).batch(1, 0, order).x();
        float[] flipped = DataLoader.of(data, 64).shuffle(3).randomResizedCrop(ResizedCrop.DEFAULT).horizontalFlip(true).batch(1, 0, order).x();
        int same = 0, mirrored = 0;
        for (int n = 0; n < 64; n++) {
            boolean equal = true, mirror = true;
            for (int i = 0; i < 144; i++) {
                equal &= plain[n * 144 + i] == flipped[n * 144 + i];
                mirror &= plain[n * 144 + i] == flipped[n * 144 + i - i % 12 + 11 - i % 12];
            }
            assertTrue(equal || mirror, "image " + n + " is its crop or the crop mirrored");
            if (equal) same++;
            if (mirror && !equal) mirrored++;
        }
        assertTrue(same > 10 && mirrored > 10, same + " kept, " + mirrored + " mirrored");
    }

    /**
     * In the loader: a window of the whole image at ratio 1 changes nothing; a real one changes
     * the batch, the same way on every run and whichever threads prepare it.
     */
    @Test
    void theLoaderCropsTheSameWayEveryRun() {
        Dataset data = SyntheticShapes.generate(40, 3, 16, 4, 5);
        DataLoader plain = DataLoader.of(data, 40).shuffle(3);
        DataLoader whole = DataLoader.of(data, 40).shuffle(3).randomResizedCrop(new ResizedCrop(1, 1, 1, 1));
        int[] order = plain.order(0);
        assertArrayEquals(plain.batch(0, 0, order).x(), whole.batch(0, 0, order).x(), 1e-6f);
        DataLoader cropping = DataLoader.of(data, 40).shuffle(3).randomResizedCrop(ResizedCrop.DEFAULT).horizontalFlip(true);
        float[] a = cropping.batch(0, 0, order).x(), b = DataLoader.of(data, 40).shuffle(3).randomResizedCrop(ResizedCrop.DEFAULT)
                .horizontalFlip(true).batch(0, 0, order).x();
        assertArrayEquals(a, b, "the same seed, epoch and samples: the same crops");
        assertNotEquals(java.util.Arrays.hashCode(a), java.util.Arrays.hashCode(plain.batch(0, 0, order).x()), "cropped");
        assertEquals(Shape.of(40, 3, 16, 16), cropping.batch(0, 0, order).shape());
    }
}
