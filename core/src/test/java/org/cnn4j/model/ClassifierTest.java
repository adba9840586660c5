package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import javax.imageio.ImageIO;

import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Dataset;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.io.ModelFile;
import org.cnn4j.layer.Pass;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassifierTest {
    @TempDir
    Path dir;

    /**
     * A trained model file's classifier gives, for image files, decoded images and prepared inputs
     * alike, the softmax of the model's logits on the normalised pixels (computed here in double),
     * best first, with the class names; and the same from threads at once.
     */
    @Test
    void predictsAsTheModelWithItsOwnPreprocessing() throws Exception {
        Dataset train = SyntheticShapes.generate(96, 1, 28, 4, 3), test = SyntheticShapes.generate(8, 1, 28, 4, 4);
        Path file = dir.resolve("model.safetensors");
        DataInfo info;
        try (Model m = Models.fmnistCnn(4).seed(2).build(Backends.CPU)) {
            Trainer t = new Trainer(m, new Sgd(0.05).momentum(0.9), Trainer.Options.of(1, 16).seed(1));
            t.fit(train, null);
            info = t.dataInfo();
            ModelFile.save(file, m, info);
        }
        List<Path> files = new ArrayList<>();
        List<BufferedImage> images = new ArrayList<>();
        for (int i = 0; i < test.size(); i++) {
            BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            image.getRaster().setDataElements(0, 0, 28, 28, test.pixels(i));
            Path png = dir.resolve(i + ".png");
            ImageIO.write(image, "png", png.toFile());
            files.add(png);
            images.add(image);
        }
        float[] x = test.images(info.normalization());
        double[][] expected = new double[test.size()][];
        try (Model m = ModelFile.load(file, Backends.CPU).model()) {
            Tensor in = m.backend().upload(m.inputShape().batch(test.size()), x);
            float[] logits = m.forward(in, Pass.INFERENCE).toFloatArray();
            in.close();
            for (int i = 0; i < test.size(); i++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int c = 0; c < 4; c++) max = Math.max(max, logits[i * 4 + c]);
                expected[i] = new double[4];
                for (int c = 0; c < 4; c++) sum += expected[i][c] = Math.exp(logits[i * 4 + c] - max);
                for (int c = 0; c < 4; c++) expected[i][c] /= sum;
            }
        }
        try (Classifier classifier = Classifier.load(file, Backends.CPU)) {
            List<List<Classifier.Scored>> all = classifier.predictAll(files, 4);
            for (int i = 0; i < test.size(); i++) {
                List<Classifier.Scored> best = all.get(i);
                assertEquals(4, best.size());
                for (int r = 0; r < 4; r++) {
                    Classifier.Scored s = best.get(r);
                    assertEquals(expected[i][s.index()], s.score(), 1e-6, "image " + i + " rank " + r);
                    assertEquals(info.classNames().get(s.index()), s.name());
                    if (r > 0) assertTrue(best.get(r - 1).score() >= s.score(), "best first");
                }
                assertEquals(best.subList(0, 2), classifier.predict(files.get(i), 2));
                assertEquals(best, classifier.predict(images.get(i), 4), "a decoded image as its file");
                float[] one = java.util.Arrays.copyOfRange(x, i * 784, (i + 1) * 784);
                assertEquals(best, classifier.predict(one, 4), "a prepared input as its image");
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<List<Classifier.Scored>>> answers = new ArrayList<>();
                for (int rep = 0; rep < 5; rep++) for (Path f : files) answers.add(pool.submit(() -> classifier.predict(f, 4)));
                for (int k = 0; k < answers.size(); k++) assertEquals(all.get(k % files.size()), answers.get(k).get(), "from many threads");
            } finally {
                pool.shutdown();
            }
            assertThrows(IllegalArgumentException.class, () -> classifier.predict(new float[10], 1));
            classifier.close();
            String closed = assertThrows(IllegalStateException.class, () -> classifier.predict(files.getFirst(), 1)).getMessage();
            assertEquals("the classifier is closed", closed);
        }
    }
}
