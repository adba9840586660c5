package org.cnn4j.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;

import org.cnn4j.io.FileFormatException;
import org.cnn4j.tensor.Shape;

/**
 * Reads image files (PNG, JPEG — whatever ImageIO reads) into a model's input: its channels, its
 * size, its normalisation.
 *
 * <p>Hostile files are refused before they cost memory or time: the width and height are read
 * from the header and checked against a pixel limit ({@link #DEFAULT_MAX_PIXELS}, as Pillow's
 * {@code MAX_IMAGE_PIXELS}) before anything is decoded; an image much larger than the model's
 * input is decoded subsampled (every k-th pixel, keeping at least twice the input's resolution),
 * so memory stays bounded by the input size rather than by the file; a file the decoder warns
 * about (a truncated JPEG, which ImageIO would otherwise fill with grey) or fails on is refused
 * with its name.
 */
public final class Images {
    /** The most pixels an image may claim unless the caller says otherwise (Pillow's limit: 1024 · 1024 · 1024 / 4 / 3). */
    public static final long DEFAULT_MAX_PIXELS = 89_478_485L;

    private Images() {
    }

    /** {@link #load(List, Shape, boolean, DataInfo, long)} with {@link #DEFAULT_MAX_PIXELS}. */
    public static float[] load(List<Path> files, Shape sample, boolean invert, DataInfo info) throws IOException {
        return load(files, sample, invert, info, DEFAULT_MAX_PIXELS);
    }

    /**
     * The images as one normalised batch (n, c, h, w): converted to grey (c = 1) or RGB (c = 3) and
     * resized as an image folder's images are for training ({@link ImageFolder}: the shorter side to
     * the input's, the centre cropped), optionally inverted. An image may have at most
     * {@code maxPixels} pixels.
     */
    public static float[] load(List<Path> files, Shape sample, boolean invert, DataInfo info, long maxPixels) throws IOException {
        int c = sample.dim(0), h = sample.dim(1), w = sample.dim(2), size = c * h * w;
        if (c != 1 && c != 3) throw new IllegalArgumentException("images can feed models with 1 or 3 channels, this one has " + c);
        byte[] pixels = new byte[Math.multiplyExact(files.size(), size)];
        for (int i = 0; i < files.size(); i++) {
            ImageFolder.pixelsOf(read(files.get(i), w, h, maxPixels), c, h, w, pixels, i * size);
        }
        if (invert) for (int i = 0; i < pixels.length; i++) pixels[i] = (byte) (255 - (pixels[i] & 0xFF));
        int[] labels = new int[files.size()];
        return new Dataset("images", sample, pixels, labels, info.classNames()).images(info.normalization());
    }

    /**
     * Decodes an image to be scaled to {@code w × h}: its size checked against {@code maxPixels}
     * first, subsampled when it is more than twice the target in both directions, refused when the
     * decoder warns or fails.
     */
    static BufferedImage read(Path file, int w, int h, long maxPixels) throws IOException {
        if (!Files.isRegularFile(file)) throw new FileFormatException(file, "no such file");
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) throw new FileFormatException(file, "not an image format Java can read (use PNG or JPEG)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long width = reader.getWidth(0), height = reader.getHeight(0);
                if (width < 1 || height < 1) throw new FileFormatException(file, "the header claims an image of " + width + "×" + height + " pixels");
                if (width * height > maxPixels) {
                    throw new FileFormatException(file, "the header claims " + width + "×" + height + " = " + width * height
                            + " pixels, more than the limit of " + maxPixels + " (which can be raised: --max-pixels)");
                }
                ImageReadParam param = reader.getDefaultReadParam();
                int k = (int) Math.max(1, Math.min(width / (2L * w), height / (2L * h)));
                if (k > 1) param.setSourceSubsampling(k, k, 0, 0);
                List<String> warnings = new ArrayList<>();
                reader.addIIOReadWarningListener(warningsInto(warnings));
                BufferedImage image = reader.read(0, param);
                if (!warnings.isEmpty()) throw new FileFormatException(file, "truncated or corrupt image: " + String.join("; ", warnings));
                return image;
            } catch (IOException | RuntimeException e) {
                if (e instanceof FileFormatException f) throw f;
                throw new FileFormatException(file, "cannot decode the image: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()));
            } finally {
                reader.dispose();
            }
        }
    }

    private static IIOReadWarningListener warningsInto(List<String> warnings) {
        return (source, warning) -> warnings.add(warning);
    }
}
