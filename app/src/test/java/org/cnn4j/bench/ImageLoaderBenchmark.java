package org.cnn4j.bench;

import java.nio.file.Path;
import java.util.Locale;

import org.cnn4j.data.Batch;
import org.cnn4j.data.DataLoader;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.Datasets;
import org.cnn4j.data.ImageFolder;
import org.cnn4j.data.Images;
import org.cnn4j.tensor.Shape;

/**
 * cnn4j's half of benchmarks/image-loader: an image folder read into memory (decoded, converted
 * and resized on every core: the first epoch's work) and then batches drawn from memory as a
 * training epoch draws them (shuffled, augmented, normalised: every later epoch's work), as
 * images/s. AUGMENT is {@code crop} (pad-and-crop and flip) or {@code rrc} (random resized crop and
 * flip). One line each, fixed format, for the script to put beside torchvision's.
 *
 * <p>Usage: {@code ImageLoaderBenchmark DIR CHANNELS SIZE BATCH EPOCHS AUGMENT}.
 */
public final class ImageLoaderBenchmark {
    private ImageLoaderBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int c = Integer.parseInt(args[1]), size = Integer.parseInt(args[2]), batch = Integer.parseInt(args[3]), epochs = Integer.parseInt(args[4]);
        long t0 = System.nanoTime();
        Datasets.Split split = ImageFolder.open(dir, Shape.of(c, size, size), 0.1, 1, Images.DEFAULT_MAX_PIXELS);
        double first = (System.nanoTime() - t0) / 1e9;
        Dataset train = split.train();
        int n = train.size() + split.test().size();
        System.out.printf(Locale.ROOT, "cnn4j first-epoch %d images %.3f s %.0f images/s%n", n, first, n / first);
        DataLoader loader = DataLoader.of(train, batch).shuffle(1).normalization(train.statistics()).horizontalFlip(true);
        if (args[5].equals("rrc")) {
            loader.randomResizedCrop(org.cnn4j.data.ResizedCrop.DEFAULT);
        } else {
            loader.randomCrop(size / 8);
        }
        double best = Double.MAX_VALUE;
        for (int e = 0; e < epochs; e++) {
            long t = System.nanoTime();
            long seen = 0;
            try (DataLoader.Epoch epoch = loader.epoch(e)) {
                while (epoch.hasNext()) {
                    Batch b = epoch.next();
                    seen += b.size();
                }
            }
            best = Math.min(best, (System.nanoTime() - t) / 1e9);
            if (seen != train.size()) throw new IllegalStateException("an epoch gave " + seen + " of " + train.size() + " images");
        }
        System.out.printf(Locale.ROOT, "cnn4j cached-epoch %d images %.3f s %.0f images/s%n", train.size(), best, train.size() / best);
    }
}
