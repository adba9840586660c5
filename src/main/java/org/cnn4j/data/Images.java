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
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;

import org.cnn4j.io.FileFormatException;
import org.cnn4j.tensor.Shape;

/**
 * Reads image files (PNG, JPEG including CMYK and YCCK, BMP, GIF — what ImageIO reads with the
 * TwelveMonkeys JPEG reader) into a model's input: its channels, its
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

    /** Whether JPEGs go to TurboJPEG when it is available (tests turn it off to check the ImageIO path). */
    static volatile boolean turboJpeg = true;

    private Images() {
    }

    /** {@link #load(List, Shape, boolean, DataInfo, long)} with {@link #DEFAULT_MAX_PIXELS}. */
    public static float[] load(List<Path> files, Shape sample, boolean invert, DataInfo info) throws IOException {
        return load(files, sample, invert, info, DEFAULT_MAX_PIXELS);
    }

    /**
     * The images as one normalised batch (n, c, h, w): converted to grey (c = 1) or RGB (c = 3) and
     * resized as the model's training images were ({@link DataInfo#preprocessing(Shape)}: the
     * shorter side scaled, the centre cropped), optionally inverted. An image may have at most
     * {@code maxPixels} pixels.
     */
    public static float[] load(List<Path> files, Shape sample, boolean invert, DataInfo info, long maxPixels) throws IOException {
        int c = sample.dim(0), size = sample.size();
        if (c != 1 && c != 3) throw new IllegalArgumentException("images can feed models with 1 or 3 channels, this one has " + c);
        Preprocessing p = info.preprocessing(sample);
        byte[] pixels = new byte[Math.multiplyExact(files.size(), size)];
        for (int i = 0; i < files.size(); i++) {
            ImageFolder.pixelsOf(read(files.get(i), Math.max(p.width(), p.resize()), Math.max(p.height(), p.resize()), maxPixels), p, pixels, i * size);
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
        if (turboJpeg && TurboJpeg.available() && Files.size(file) < Integer.MAX_VALUE - 16 && isJpeg(file)) {
            BufferedImage image = TurboJpeg.decode(file, Files.readAllBytes(file), w, h, maxPixels);
            if (image != null) return image; // else CMYK or YCCK: ImageIO's readers below
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            ImageReader reader = in == null ? null : reader(in);
            if (reader == null) throw new FileFormatException(file, "not an image format Java can read (PNG, JPEG, BMP, GIF)");
            try {
                long width = reader.getWidth(0), height = reader.getHeight(0);
                if (width < 1 || height < 1) throw new FileFormatException(file, "the header claims an image of " + width + "×" + height + " pixels");
                if (width * height > maxPixels) {
                    throw new FileFormatException(file, "the header claims " + width + "×" + height + " = " + width * height
                            + " pixels, more than the limit of " + maxPixels + " (which can be raised: --max-pixels)");
                }
                ImageReadParam param = reader.getDefaultReadParam();
                ImageTypeSpecifier cmyk = cmykType(reader);
                if (cmyk != null) param.setDestinationType(cmyk); // the inks as stored, converted as Pillow does (ImageFolder)
                int k = (int) Math.max(1, Math.min(width / (2L * w), height / (2L * h)));
                if (k > 1) param.setSourceSubsampling(k, k, 0, 0);
                List<String> warnings = new ArrayList<>();
                reader.addIIOReadWarningListener(warningsInto(warnings));
                BufferedImage image = reader.read(0, param);
                warnings.removeIf(warning -> cmyk != null && warning.contains("ICC")); // no colour profile: none is used
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

    /** Whether the file starts as a JPEG does (the start-of-image marker, then another marker). */
    private static boolean isJpeg(Path file) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(3);
            return head.length == 3 && (head[0] & 0xFF) == 0xFF && (head[1] & 0xFF) == 0xD8 && (head[2] & 0xFF) == 0xFF;
        }
    }

    /**
     * A reader for the stream, set on it, null when there is none: for a JPEG of four components
     * (CMYK or YCCK) one that reads its inks (TwelveMonkeys; the JDK's reader decodes them as if
     * they were colours), else the JDK's own (it decodes JPEGs faster than the TwelveMonkeys reader,
     * which wraps it).
     */
    private static ImageReader reader(ImageInputStream in) throws IOException {
        List<ImageReader> readers = new ArrayList<>();
        ImageIO.getImageReaders(in).forEachRemaining(readers::add);
        if (readers.isEmpty()) return null;
        boolean inks = jpegComponents(in) == 4;
        readers.sort(java.util.Comparator.comparing(r -> r.getClass().getName().startsWith("com.sun.") != inks ? 0 : 1));
        for (ImageReader r : readers.subList(1, readers.size())) r.dispose();
        readers.get(0).setInput(in, true, true);
        return readers.get(0);
    }

    /**
     * The number of components a JPEG's frame header declares (3 for colour, 1 for grey, 4 for
     * CMYK or YCCK), -1 when the stream is no JPEG or ends before its frame header; the stream is
     * left at its start. Only marker segments' lengths are followed, so a hostile file costs a few
     * reads at most per segment.
     */
    static int jpegComponents(ImageInputStream in) throws IOException {
        in.mark();
        try {
            if (in.read() != 0xFF || in.read() != 0xD8) return -1;
            while (true) {
                int b = in.read();
                if (b < 0) return -1;
                if (b != 0xFF) return -1; // segments follow each other directly up to the frame header
                int marker = in.read();
                while (marker == 0xFF) marker = in.read(); // fill bytes
                if (marker < 0 || marker == 0xD9 || marker == 0xDA) return -1;
                if (marker >= 0xD0 && marker <= 0xD7 || marker == 0x01) continue; // no length
                int length = in.readUnsignedShort();
                boolean frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
                if (frame) {
                    if (length < 8) return -1;
                    in.skipBytes(5); // precision, height, width
                    return in.read();
                }
                if (length < 2 || in.skipBytes(length - 2) < length - 2) return -1;
            }
        } catch (java.io.EOFException e) {
            return -1;
        } finally {
            in.reset();
        }
    }

    /** The reader's CMYK destination type for a CMYK or YCCK JPEG, else null. */
    private static ImageTypeSpecifier cmykType(ImageReader reader) throws IOException {
        for (Iterator<ImageTypeSpecifier> types = reader.getImageTypes(0); types.hasNext(); ) {
            ImageTypeSpecifier type = types.next();
            if (type.getColorModel().getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_CMYK) return type;
        }
        return null;
    }

    private static IIOReadWarningListener warningsInto(List<String> warnings) {
        return (source, warning) -> warnings.add(warning);
    }
}
