package org.cnn4j.data;

import java.util.LinkedHashMap;
import java.util.Map;

import org.cnn4j.io.Settings;
import org.cnn4j.tensor.Shape;

/**
 * How an image file becomes a model's input, as torchvision's {@code Resize(resize)} then
 * {@code CenterCrop(h, w)} on a PIL image converted to the input's channels: the shorter side
 * scaled to {@code resize} (bilinear, antialiased; the longer in proportion), then the centre
 * h×w. {@code resize} 0 scales just enough for the crop to fit (for a square input: to its side).
 * Stored in the model file with the data description, so that evaluation and prediction prepare
 * any image exactly as training prepared its images.
 *
 * @param input  (c, h, w) of the model's input, c = 1 (grey) or 3 (RGB)
 * @param resize the shorter side before the centre crop, 0 or at least max(h, w)
 */
public record Preprocessing(Shape input, int resize) {
    /** The largest side an image is resized to. */
    public static final int MAX_SIDE = 16384;

    public Preprocessing {
        if (input.rank() != 3 || (input.dim(0) != 1 && input.dim(0) != 3)) {
            throw new IllegalArgumentException("images are read as (1 or 3 channels, h, w), not " + input);
        }
        if (input.dim(1) > MAX_SIDE || input.dim(2) > MAX_SIDE) throw new IllegalArgumentException("images of " + input + " exceed " + MAX_SIDE + " pixels a side");
        if (resize != 0 && (resize < Math.max(input.dim(1), input.dim(2)) || resize > MAX_SIDE)) {
            throw new IllegalArgumentException("the shorter side is resized to between max(h, w) = " + Math.max(input.dim(1), input.dim(2))
                    + " and " + MAX_SIDE + " before the centre crop of " + input.dim(1) + "×" + input.dim(2) + ", not " + resize);
        }
    }

    /** Scaled just enough for the input's centre crop. */
    public static Preprocessing of(Shape input) {
        return new Preprocessing(input, 0);
    }

    public int channels() {
        return input.dim(0);
    }

    public int height() {
        return input.dim(1);
    }

    public int width() {
        return input.dim(2);
    }

    /** "shorter side to 36, centre crop 32×32, RGB" and the like. */
    public String describe() {
        return (resize > 0 ? "shorter side to " + resize + ", " : "") + "centre crop " + height() + "×" + width() + ", " + (channels() == 1 ? "grey" : "RGB");
    }

    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("input", java.util.Arrays.stream(input.dims()).boxed().toList());
        c.put("resize", resize);
        return c;
    }

    public static Preprocessing fromConfig(Settings s) {
        return new Preprocessing(Shape.of(s.integers("input", 3)), s.integer("resize"));
    }
}
