package org.cnn4j.data;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.cnn4j.backend.CounterRng;
import org.cnn4j.io.Settings;

/**
 * torchvision's {@code RandomResizedCrop}: a window of a random share of the image's area (in
 * [scaleMin, scaleMax]) and a random aspect ratio (log-uniform in [ratioMin, ratioMax]) is cut out
 * and resized to the image's size, with the bilinear filter of the image folder's resize
 * (antialiased when the window is larger than the output). The window is drawn as torchvision
 * draws it: ten tries for one that fits, else the largest centred window of an allowed ratio.
 *
 * <p>Here the image is the one the loader holds (an image folder's images are held resized to the
 * input size), so the window is cut from that, not from the original file: at scale 1 it is the
 * whole held image. The randomness comes from a key (seed, epoch, sample), so an epoch's crops do
 * not depend on which thread prepares them.
 */
public record ResizedCrop(double scaleMin, double scaleMax, double ratioMin, double ratioMax) {
    /** torchvision's defaults: 8 % to all of the area, ratios from 3/4 to 4/3. */
    public static final ResizedCrop DEFAULT = new ResizedCrop(0.08, 1, 3.0 / 4, 4.0 / 3);

    public ResizedCrop {
        if (!(scaleMin > 0 && scaleMin <= scaleMax && scaleMax <= 1)) {
            throw new IllegalArgumentException("the crop's share of the area must satisfy 0 < min <= max <= 1, got [" + scaleMin + ", " + scaleMax + "]");
        }
        if (!(ratioMin > 0 && ratioMin <= ratioMax && Double.isFinite(ratioMax))) {
            throw new IllegalArgumentException("the crop's aspect ratios must satisfy 0 < min <= max, got [" + ratioMin + ", " + ratioMax + "]");
        }
    }

    /** torchvision's ratios with this least share of the area (at most 1). */
    public static ResizedCrop scale(double min) {
        return new ResizedCrop(min, 1, DEFAULT.ratioMin, DEFAULT.ratioMax);
    }

    /** A window (top, left, height, width) of an h×w image, drawn from the counter-based generator at {@code key}. */
    public record Box(int top, int left, int height, int width) {
    }

    /** The window for the image at {@code key}, as torchvision's {@code RandomResizedCrop.get_params} draws it. */
    public Box box(int height, int width, long key) {
        double area = (double) height * width, logLo = Math.log(ratioMin), logHi = Math.log(ratioMax);
        for (int attempt = 0; attempt < 10; attempt++) {
            double target = area * (scaleMin + (scaleMax - scaleMin) * CounterRng.uniform(key, 4 * attempt));
            double ratio = Math.exp(logLo + (logHi - logLo) * CounterRng.uniform(key, 4 * attempt + 1));
            int w = (int) Math.rint(Math.sqrt(target * ratio)), h = (int) Math.rint(Math.sqrt(target / ratio));
            if (w > 0 && w <= width && h > 0 && h <= height) {
                int top = (int) (CounterRng.uniform(key, 4 * attempt + 2) * (height - h + 1));
                int left = (int) (CounterRng.uniform(key, 4 * attempt + 3) * (width - w + 1));
                return new Box(top, left, h, w);
            }
        }
        double inRatio = (double) width / height;
        int w = width, h = height;
        if (inRatio < ratioMin) {
            h = (int) Math.rint(w / ratioMin);
        } else if (inRatio > ratioMax) {
            w = (int) Math.rint(h * ratioMax);
        }
        return new Box((height - h) / 2, (width - w) / 2, h, w);
    }

    /**
     * Replaces each of the c h×w planes of an image at {@code offset} in {@code x} by its window
     * resized to h×w: bilinear, as the image folder resizes (PIL's filter, widened when shrinking).
     */
    static void apply(float[] x, int offset, int c, int height, int width, Box box) {
        Scratch s = SCRATCH.get().fit(height, width);
        ImageFolder.Weights across = s.across(box.width()), down = s.down(box.height());
        for (int ch = 0; ch < c; ch++) {
            int base = offset + ch * height * width;
            ImageFolder.resample(x, base + box.top() * width + box.left(), width, box.width(), across, down, s.columns, x, base);
        }
    }

    /**
     * Resizes a window already cut out ({@code window}: c planes of the box's height × width, as
     * {@link Dataset#copyWindow} gives them) to h×w into {@code x} at {@code offset}, mirrored
     * left to right when asked: the same values as {@link #apply} on the whole image, then a flip.
     */
    static void resize(float[] window, int c, Box box, int height, int width, boolean mirror, float[] x, int offset) {
        Scratch s = SCRATCH.get().fit(height, width);
        ImageFolder.Weights across = s.across(box.width()), down = s.down(box.height());
        int plane = box.height() * box.width();
        for (int ch = 0; ch < c; ch++) {
            ImageFolder.resample(window, ch * plane, box.width(), box.width(), across, down, s.columns, x, offset + ch * height * width, mirror);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** A thread's scratch for one output size: the column pass's floats and the weights for each window side, made once. */
    private static final class Scratch {
        int height, width;
        float[] columns = new float[0];
        ImageFolder.Weights[] across = new ImageFolder.Weights[0], down = new ImageFolder.Weights[0];

        Scratch fit(int h, int w) {
            if (h != height || w != width) {
                height = h;
                width = w;
                columns = new float[w * h];
                across = new ImageFolder.Weights[w + 1];
                down = new ImageFolder.Weights[h + 1];
            }
            return this;
        }

        ImageFolder.Weights across(int n) {
            if (across[n] == null) across[n] = ImageFolder.filter(n, width);
            return across[n];
        }

        ImageFolder.Weights down(int n) {
            if (down[n] == null) down[n] = ImageFolder.filter(n, height);
            return down[n];
        }
    }

    /** As stored in a model file's data description and a checkpoint. */
    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("scale", List.of(scaleMin, scaleMax));
        c.put("ratio", List.of(ratioMin, ratioMax));
        return c;
    }

    public static ResizedCrop fromConfig(Settings s) {
        double[] scale = s.numbers("scale"), ratio = s.numbers("ratio");
        if (scale.length != 2 || ratio.length != 2) {
            throw new IllegalArgumentException(s.owner() + ": a resized crop's scale and ratio are pairs [min, max]");
        }
        return new ResizedCrop(scale[0], scale[1], ratio[0], ratio[1]);
    }
}
