package org.cnn4j.data;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import org.cnn4j.io.FileFormatException;
import org.cnn4j.tensor.Shape;

/** Reads image files (PNG, JPEG — whatever ImageIO reads) into a model's input: its channels, its size, its normalisation. */
public final class Images {
    private Images() {
    }

    /**
     * The images as one normalised batch (n, c, h, w): converted to grey (c = 1) or RGB (c = 3),
     * scaled to h×w with bilinear interpolation, optionally inverted.
     */
    public static float[] load(List<Path> files, Shape sample, boolean invert, DataInfo info) throws IOException {
        int c = sample.dim(0), h = sample.dim(1), w = sample.dim(2);
        if (c != 1 && c != 3) throw new IllegalArgumentException("images can feed models with 1 or 3 channels, this one has " + c);
        byte[] pixels = new byte[files.size() * c * h * w];
        for (int i = 0; i < files.size(); i++) {
            BufferedImage image = read(files.get(i));
            BufferedImage scaled = new BufferedImage(w, h, c == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
            Graphics2D g = scaled.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(image, 0, 0, w, h, null);
            g.dispose();
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int rgb = scaled.getRGB(x, y);
                    for (int ch = 0; ch < c; ch++) {
                        int v = c == 1 ? scaled.getRaster().getSample(x, y, 0) : (rgb >> (16 - 8 * ch)) & 0xFF;
                        pixels[((i * c + ch) * h + y) * w + x] = (byte) (invert ? 255 - v : v);
                    }
                }
            }
        }
        int[] labels = new int[files.size()];
        return new Dataset("images", sample, pixels, labels, info.classNames()).images(info.normalization());
    }

    private static BufferedImage read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new FileFormatException(file, "no such file");
        BufferedImage image;
        try {
            image = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new FileFormatException(file, "cannot decode the image: " + e.getMessage());
        }
        if (image == null) throw new FileFormatException(file, "not an image format Java can read (use PNG or JPEG)");
        return image;
    }
}
