package org.cnn4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.junit.jupiter.api.Test;

/** Batching, shuffling, normalisation and augmentation, against plain loops. */
class DataLoaderTest {
    /** n images of c×h×w whose pixel bytes are random, and labels i % classes. */
    private static Dataset data(int n, int c, int h, int w) {
        byte[] pixels = new byte[n * c * h * w];
        new Random(5).nextBytes(pixels);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 3;
        return new Dataset("test", Shape.of(c, h, w), pixels, labels, List.of("a", "b", "c"));
    }

    private static List<Batch> epoch(DataLoader loader, int e) {
        List<Batch> batches = new ArrayList<>();
        try (DataLoader.Epoch epoch = loader.epoch(e)) {
            while (epoch.hasNext()) batches.add(epoch.next());
        }
        return batches;
    }

    /**
     * Data-parallel shares (as PyTorch's DistributedSampler): 10 samples over 3 replicas give 4
     * each, the epoch's first two samples again to fill the last places; batch i of the replicas
     * together holds one process's batch i of 3 × the batch size.
     */
    @Test
    void replicasShareEachEpochAsOneProcessBatchesIt() {
        Dataset d = data(10, 1, 1, 1);
        DataLoader whole = DataLoader.of(d, 6).shuffle(3);
        int[] order = whole.order(1);
        List<Integer> all = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            DataLoader share = DataLoader.of(d, 2).shuffle(3).shard(r, 3);
            int[] mine = share.order(1);
            assertEquals(4, mine.length);
            for (int i = 0; i < 4; i++) {
                assertEquals(order[(r + 3 * i) % 10], mine[i], "every third sample from position " + r);
                all.add(mine[i]);
            }
            assertEquals(2, share.batches());
        }
        java.util.Collections.sort(all);
        List<Integer> expected = new ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, order[0], order[1]));
        java.util.Collections.sort(expected);
        assertEquals(expected, all, "the epoch once, and its first two samples again");
        assertThrows(IllegalArgumentException.class, () -> DataLoader.of(d, 2).shard(3, 3));
    }

    @Test
    void everySampleOnceAndTheLastBatchPartial() {
        Dataset d = data(23, 1, 2, 2);
        DataLoader loader = DataLoader.of(d, 5).shuffle(1);
        List<Batch> batches = epoch(loader, 0);
        assertEquals(5, batches.size());
        assertEquals(3, batches.get(4).size());
        assertEquals(Shape.of(3, 1, 2, 2), batches.get(4).shape());
        // Every image appears once: match each batch image to its dataset image.
        float[] all = d.images(Normalization.identity(1));
        boolean[] seen = new boolean[23];
        for (Batch b : batches) {
            for (int i = 0; i < b.size(); i++) {
                float[] img = Arrays.copyOfRange(b.x(), i * 4, i * 4 + 4);
                int match = -1;
                for (int s = 0; s < 23; s++) if (!seen[s] && Arrays.equals(img, Arrays.copyOfRange(all, s * 4, s * 4 + 4))) match = s;
                assertTrue(match >= 0, "batch image not in the dataset");
                seen[match] = true;
                assertEquals(d.label(match), b.y()[i]);
            }
        }
    }

    @Test
    void shuffleDependsOnlyOnSeedAndEpoch() {
        Dataset d = data(50, 1, 2, 2);
        DataLoader a = DataLoader.of(d, 8).shuffle(7), b = DataLoader.of(d, 8).shuffle(7), c = DataLoader.of(d, 8).shuffle(8);
        assertArrayEquals(a.order(3), b.order(3));
        assertFalse(Arrays.equals(a.order(3), a.order(4)), "each epoch its own order");
        assertFalse(Arrays.equals(a.order(3), c.order(3)), "another seed, another order");
        int[] sorted = a.order(3).clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 50; i++) assertEquals(i, sorted[i]);
        assertArrayEquals(epoch(a, 2).get(1).x(), epoch(b, 2).get(1).x());
        int[] plain = DataLoader.of(d, 8).order(0);
        for (int i = 0; i < 50; i++) assertEquals(i, plain[i]);
    }

    @Test
    void normalisesPerChannel() {
        Dataset d = data(4, 2, 3, 3);
        Normalization n = new Normalization(new double[] {0.25, 0.5}, new double[] {0.5, 2});
        Batch b = epoch(DataLoader.of(d, 4).normalization(n), 0).get(0);
        byte[] p = d.pixels();
        for (int i = 0; i < p.length; i++) {
            int channel = (i / 9) % 2;
            double expected = ((p[i] & 0xFF) / 255.0 - n.mean()[channel]) / n.std()[channel];
            assertEquals(expected, b.x()[i], 1e-6);
        }
    }

    @Test
    void statisticsAreTheMeanAndStdOfEachChannel() {
        Dataset d = data(6, 3, 4, 5);
        Normalization s = d.statistics();
        byte[] p = d.pixels();
        for (int ch = 0; ch < 3; ch++) {
            double sum = 0, sq = 0;
            int count = 0;
            for (int i = 0; i < p.length; i++) {
                if ((i / 20) % 3 != ch) continue;
                double v = (p[i] & 0xFF) / 255.0;
                sum += v;
                sq += v * v;
                count++;
            }
            double mean = sum / count;
            assertEquals(mean, s.mean()[ch], 1e-12);
            assertEquals(Math.sqrt(sq / count - mean * mean), s.std()[ch], 1e-9);
        }
    }

    @Test
    void cropAndFlipMoveEveryPixelAsTheyShould() {
        Dataset d = data(40, 2, 5, 6);
        int pad = 2;
        DataLoader loader = DataLoader.of(d, 40).randomCrop(pad).horizontalFlip(true).shuffle(3);
        Batch b = epoch(loader, 1).get(0);
        int[] order = loader.order(1);
        float[] plain = d.images(Normalization.identity(2));
        int flips = 0, shifted = 0;
        for (int i = 0; i < 40; i++) {
            float[] src = Arrays.copyOfRange(plain, order[i] * 60, order[i] * 60 + 60), out = Arrays.copyOfRange(b.x(), i * 60, i * 60 + 60);
            // Find the (shift, flip) that explains the output: exactly one must, with padding as zeros.
            int found = 0;
            for (boolean mirror : new boolean[] {false, true}) {
                for (int dy = -pad; dy <= pad; dy++) {
                    for (int dx = -pad; dx <= pad; dx++) {
                        float[] expected = new float[60];
                        for (int ch = 0; ch < 2; ch++) {
                            for (int r = 0; r < 5; r++) {
                                for (int col = 0; col < 6; col++) {
                                    int sr = r + dy, sc = (mirror ? 5 - col : col) + dx;
                                    expected[ch * 30 + r * 6 + col] = sr >= 0 && sr < 5 && sc >= 0 && sc < 6 ? src[ch * 30 + sr * 6 + sc] : 0f;
                                }
                            }
                        }
                        if (Arrays.equals(expected, out)) {
                            found++;
                            if (mirror) flips++;
                            if (dy != 0 || dx != 0) shifted++;
                        }
                    }
                }
            }
            assertEquals(1, found, "sample " + i + " is a crop/flip of its source");
        }
        assertTrue(flips > 8 && flips < 32, "about half flipped: " + flips);
        assertTrue(shifted > 25, "most shifted: " + shifted);
        assertArrayEquals(b.x(), epoch(DataLoader.of(d, 40).randomCrop(pad).horizontalFlip(true).shuffle(3), 1).get(0).x(), "deterministic");
        assertNotEquals(Arrays.hashCode(b.x()), Arrays.hashCode(epoch(loader, 2).get(0).x()));
    }

    @Test
    void anEpochClosedEarlyStopsItsThread() throws InterruptedException {
        DataLoader loader = DataLoader.of(data(100, 1, 2, 2), 1);
        int before = Thread.activeCount();
        try (DataLoader.Epoch epoch = loader.epoch(0)) {
            epoch.next();
        }
        Thread.sleep(50);
        assertTrue(Thread.activeCount() <= before, "the loader thread has ended");
    }

    @Test
    void badSettingsAreRefused() {
        Dataset d = data(4, 1, 2, 2);
        assertThrows(IllegalArgumentException.class, () -> DataLoader.of(d, 0));
        String m = assertThrows(IllegalArgumentException.class, () -> DataLoader.of(d, 2).normalization(Normalization.identity(3))).getMessage();
        assertTrue(m.contains("1-channel images but the normalisation has 3"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Dataset("x", Shape.of(1, 2, 2), new byte[8], new int[] {0, 5}, List.of("a", "b"))).getMessage();
        assertTrue(m.contains("label 5 of sample 1 is outside [0, 2)"), m);
    }
}
