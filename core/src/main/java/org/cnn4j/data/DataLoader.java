package org.cnn4j.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

import org.cnn4j.backend.CounterRng;

/**
 * Turns a {@link Dataset} into batches: shuffled with a seed (the order of epoch e depends only on
 * the seed and e, so a resumed run sees the same batches), normalised, optionally augmented by a
 * random resized crop, a random crop of a zero-padded image and a horizontal flip, and prepared
 * on a background thread so that the next batch is ready when a training step ends.
 *
 * <pre>{@code
 * DataLoader loader = DataLoader.of(train, 256).shuffle(42).normalization(train.statistics()).randomCrop(4).horizontalFlip(true);
 * try (DataLoader.Epoch epoch = loader.epoch(0)) {
 *     while (epoch.hasNext()) { Batch batch = epoch.next(); ... }
 * }
 * }</pre>
 */
public final class DataLoader {
    private static final int PREFETCH = 2;

    private final Dataset data;
    private final int batchSize;
    private boolean shuffle;
    private long seed;
    private float[][] table; // the normalisation as a lookup table per channel and pixel byte
    private int cropPadding;
    private boolean flip;
    private ResizedCrop resizedCrop;
    private int rank, replicas = 1;

    private DataLoader(Dataset data, int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (data.size() == 0) throw new IllegalArgumentException(data.name() + " holds no samples");
        this.data = data;
        this.batchSize = batchSize;
        normalization(Normalization.identity(data.sampleShape().dim(0)));
    }

    /** Batches of {@code batchSize} in dataset order, pixels scaled to [0, 1], no augmentation. */
    public static DataLoader of(Dataset data, int batchSize) {
        return new DataLoader(data, batchSize);
    }

    /** Shuffles every epoch, from this seed. */
    public DataLoader shuffle(long seed) {
        this.shuffle = true;
        this.seed = seed;
        return this;
    }

    /**
     * This process's share of every epoch in data-parallel training, as PyTorch's {@code
     * DistributedSampler}: the epoch's order (the same in every process: one seed) is made a
     * multiple of {@code replicas} long by repeating its first samples, and replica {@code rank}
     * takes every replicas-th sample from position rank. The shares are disjoint but for those
     * repeats, together they cover the epoch, and the replicas' batch i together hold the samples
     * of one process's batch i of batchSize × replicas.
     */
    public DataLoader shard(int rank, int replicas) {
        if (replicas < 1 || rank < 0 || rank >= replicas) throw new IllegalArgumentException("rank " + rank + " of " + replicas + " replicas");
        this.rank = rank;
        this.replicas = replicas;
        return this;
    }

    /** The samples this loader gives an epoch: the dataset's, or a replica's share. */
    private int samples() {
        return (data.size() + replicas - 1) / replicas;
    }

    public DataLoader normalization(Normalization normalization) {
        data.checkChannels(normalization);
        this.table = normalization.table();
        return this;
    }

    /** Pads each image with {@code padding} zero pixels on every side and crops a random window of the original size. */
    public DataLoader randomCrop(int padding) {
        if (padding < 0) throw new IllegalArgumentException("crop padding must be >= 0, got " + padding);
        this.cropPadding = padding;
        return this;
    }

    /**
     * Cuts a random window out of each image and resizes it to the image's size (torchvision's
     * {@code RandomResizedCrop}; see {@link ResizedCrop}), before any padded crop and flip; null:
     * none. The batches are then prepared on every core.
     */
    public DataLoader randomResizedCrop(ResizedCrop crop) {
        this.resizedCrop = crop;
        return this;
    }

    /** Mirrors each image left-right with probability ½. */
    public DataLoader horizontalFlip(boolean on) {
        this.flip = on;
        return this;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Batches per epoch (the last one may be partial). */
    public int batches() {
        return (samples() + batchSize - 1) / batchSize;
    }

    /** Starts preparing the batches of epoch {@code epoch} (0-based) on a background thread. */
    public Epoch epoch(int epoch) {
        return new Epoch(epoch);
    }

    /** The sample order of an epoch: a seeded Fisher–Yates shuffle, or the dataset's order; a replica's share of it (see {@link #shard}). */
    int[] order(int epoch) {
        int n = data.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (shuffle) {
            Random rng = new Random(seed * 0x9E3779B97F4A7C15L + epoch);
            for (int i = n - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        if (replicas == 1) return order;
        int[] share = new int[samples()];
        for (int i = 0; i < share.length; i++) share[i] = order[(rank + i * replicas) % n];
        return share;
    }

    Batch batch(int epoch, int index, int[] order) {
        int from = index * batchSize, n = Math.min(batchSize, order.length - from);
        int sample = data.sampleShape().size();
        float[] x = new float[n * sample];
        int[] y = new int[n];
        boolean augmented = cropPadding > 0 || flip || resizedCrop != null;
        int c = data.sampleShape().dim(0), h = data.sampleShape().dim(1), w = data.sampleShape().dim(2);
        java.util.function.IntConsumer one = i -> {
            int s = order[from + i];
            y[i] = data.label(s);
            long key = key(epoch, s);
            boolean flipped = false;
            if (resizedCrop != null) { // only the window is read and normalised; the flip is made while resizing
                ResizedCrop.Box box = resizedCrop.box(h, w, key * 0x9E3779B97F4A7C15L + 1);
                float[] window = new float[c * box.height() * box.width()];
                data.copyWindow(s, box.top(), box.left(), box.height(), box.width(), table, window);
                flipped = mirrored(key);
                ResizedCrop.resize(window, c, box, h, w, flipped, x, i * sample);
            } else {
                data.copyImages(x, i * sample, s, s + 1, table);
            }
            if (augmented) augment(x, i * sample, key, !flipped && mirrored(key), new float[h * w]);
        };
        // each image writes its own slice with randomness of its own: the batch is the same on any number of threads
        if (resizedCrop != null) {
            java.util.stream.IntStream.range(0, n).parallel().forEach(one);
        } else {
            for (int i = 0; i < n; i++) one.accept(i);
        }
        return new Batch(index, x, y, data.sampleShape().batch(n));
    }

    /** The key of a sample's randomness in an epoch: it depends only on (seed, epoch, sample). */
    private long key(int epoch, int sample) {
        return (seed * 31 + epoch) * 0x2545F4914F6CDD1DL + sample;
    }

    /** Whether the sample of this key is mirrored (with probability ½ when flipping). */
    private boolean mirrored(long key) {
        return flip && CounterRng.uniform(key, 2) < 0.5f;
    }

    /**
     * Crops (padded) and mirrors one normalised image in place, with the randomness of {@code key};
     * {@code plane} is scratch space for one channel.
     */
    private void augment(float[] x, int offset, long key, boolean mirror, float[] plane) {
        int shiftY = 0, shiftX = 0;
        if (cropPadding > 0) {
            shiftY = (int) (CounterRng.uniform(key, 0) * (2 * cropPadding + 1)) - cropPadding;
            shiftX = (int) (CounterRng.uniform(key, 1) * (2 * cropPadding + 1)) - cropPadding;
        }
        int c = data.sampleShape().dim(0), h = data.sampleShape().dim(1), w = data.sampleShape().dim(2);
        if (shiftX == 0 && shiftY == 0 && !mirror) return;
        for (int ch = 0; ch < c; ch++) {
            int base = offset + ch * h * w;
            System.arraycopy(x, base, plane, 0, h * w);
            float zero = table[ch][0]; // padding is black, as in an image padded before normalising
            for (int r = 0; r < h; r++) {
                for (int col = 0; col < w; col++) {
                    int sr = r + shiftY, sc = (mirror ? w - 1 - col : col) + shiftX;
                    x[base + r * w + col] = sr >= 0 && sr < h && sc >= 0 && sc < w ? plane[sr * w + sc] : zero;
                }
            }
        }
    }

    /**
     * The batches of one epoch, produced in order by a background thread a few batches ahead.
     * Close it (try-with-resources) to stop the thread when leaving an epoch early.
     */
    public final class Epoch implements Iterator<Batch>, AutoCloseable {
        private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(PREFETCH);
        private final Thread producer;
        private final int total = DataLoader.this.batches();
        private int taken;

        private Epoch(int epoch) {
            producer = Thread.ofPlatform().daemon().name("cnn4j-loader-" + data.name() + "-epoch-" + epoch).unstarted(() -> {
                try {
                    int[] order = order(epoch);
                    for (int b = 0; b < total; b++) {
                        Object item;
                        try {
                            item = batch(epoch, b, order);
                        } catch (RuntimeException | Error e) {
                            item = e; // handed to the consumer in order, after the batches before it
                        }
                        queue.put(item);
                        if (!(item instanceof Batch)) return;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // closed early: stop
                }
            });
            producer.start();
        }

        @Override
        public boolean hasNext() {
            return taken < total;
        }

        @Override
        public Batch next() {
            if (!hasNext()) throw new NoSuchElementException("epoch has " + total + " batches");
            Object item;
            try {
                item = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for batch " + taken, e);
            }
            if (item instanceof RuntimeException e) throw new IllegalStateException("preparing batch " + taken + " failed: " + e.getMessage(), e);
            if (item instanceof Error e) throw e;
            taken++;
            return (Batch) item;
        }

        /** Number of batches in this epoch. */
        public int batches() {
            return total;
        }

        @Override
        public void close() {
            producer.interrupt();
            try {
                producer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
