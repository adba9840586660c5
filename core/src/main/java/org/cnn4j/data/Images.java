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
     * Images already decoded, as one normalised batch (n, c, h, w) prepared as {@link #load} prepares
     * files: converted to the model's channels, resized and centre-cropped as the data description
     * says, normalised.
     */
    public static float[] prepare(List<BufferedImage> images, Shape sample, DataInfo info) {
        int c = sample.dim(0), size = sample.size();
        if (c != 1 && c != 3) throw new IllegalArgumentException("images can feed models with 1 or 3 channels, this one has " + c);
        Preprocessing p = info.preprocessing(sample);
        byte[] pixels = new byte[Math.multiplyExact(images.size(), size)];
        for (int i = 0; i < images.size(); i++) ImageFolder.pixelsOf(images.get(i), p, pixels, i * size);
        return new Dataset("images", sample, pixels, new int[images.size()], info.classNames()).images(info.normalization());
    }

    /**
     * Decodes an image to be scaled to {@code w × h}: its size checked against {@code maxPixels}
     * first, subsampled when it is more than twice the target in both directions, refused when the
     * decoder warns or fails.
     */
    static BufferedImage read(Path file, int w, int h, long maxPixels) throws IOException {
        if (!Files.isRegularFile(file)) throw new FileFormatException(file, "no such file");
        long length = Files.size(file);
        if (length > Integer.MAX_VALUE - 16) throw new FileFormatException(file, "a file of " + length + " bytes, more than an image may take here (2 GiB)");
        byte[] bytes = Files.readAllBytes(file);
        String format = format(bytes);
        if (turboJpeg && TurboJpeg.available() && "jpeg".equals(format)) {
            BufferedImage image = TurboJpeg.decode(file, bytes, w, h, maxPixels);
            if (image != null) return image; // else CMYK or YCCK: ImageIO's readers below
        }
        try (ImageInputStream in = new Bytes(bytes)) {
            boolean mine = format != null && !("jpeg".equals(format) && jpegComponents(in) == 4);
            ImageReader reader = mine ? threadReader(format) : reader(in);
            if (reader == null) throw new FileFormatException(file, "not an image format Java can read (PNG, JPEG, BMP, GIF)");
            boolean done = false;
            try {
                reader.setInput(in, true, true);
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
                done = true;
                return image;
            } catch (IOException | RuntimeException e) {
                if (e instanceof FileFormatException f) throw f;
                throw new FileFormatException(file, "cannot decode the image: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()));
            } finally {
                reader.removeAllIIOReadWarningListeners();
                reader.setInput(null);
                if (!mine || !done) { // a reader that failed starts afresh next time
                    reader.dispose();
                    if (mine) READERS.get().remove(format);
                }
            }
        }
    }

    /** The format the file's first bytes name (png, jpeg, gif, bmp), null for any other. */
    private static String format(byte[] b) {
        if (b.length >= 8 && (b[0] & 0xFF) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') return "png";
        if (b.length >= 3 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8 && (b[2] & 0xFF) == 0xFF) return "jpeg";
        if (b.length >= 4 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F' && b[3] == '8') return "gif";
        if (b.length >= 2 && b[0] == 'B' && b[1] == 'M') return "bmp";
        return null;
    }

    /** Each thread's reader of each format, kept between images (finding and making one costs more than a small PNG's decoding). */
    private static final ThreadLocal<java.util.Map<String, ImageReader>> READERS = ThreadLocal.withInitial(java.util.HashMap::new);

    /** This thread's reader of a format: the JDK's own where it has one (faster for JPEG than the TwelveMonkeys reader, which wraps it). */
    private static ImageReader threadReader(String format) {
        return READERS.get().computeIfAbsent(format, f -> {
            List<ImageReader> readers = new ArrayList<>();
            ImageIO.getImageReadersByFormatName(f).forEachRemaining(readers::add);
            readers.sort(java.util.Comparator.comparing(r -> r.getClass().getName().startsWith("com.sun.") ? 0 : 1));
            for (ImageReader r : readers.subList(Math.min(1, readers.size()), readers.size())) r.dispose();
            return readers.isEmpty() ? null : readers.get(0);
        });
    }

    /** A whole file's bytes as an image input stream. */
    private static final class Bytes extends javax.imageio.stream.ImageInputStreamImpl {
        private final byte[] data;

        Bytes(byte[] data) {
            this.data = data;
        }

        @Override
        public int read() {
            bitOffset = 0;
            return streamPos < data.length ? data[(int) streamPos++] & 0xFF : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            java.util.Objects.checkFromIndexSize(off, len, b.length);
            bitOffset = 0;
            if (len == 0) return 0;
            if (streamPos >= data.length) return -1;
            int n = (int) Math.min(len, data.length - streamPos);
            System.arraycopy(data, (int) streamPos, b, off, n);
            streamPos += n;
            return n;
        }

        @Override
        public long length() {
            return data.length;
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
