package org.cnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cnn4j.backend.Backend;
import org.cnn4j.layer.Conv2d;
import org.cnn4j.layer.Dense;
import org.cnn4j.layer.Dropout;
import org.cnn4j.layer.Flatten;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.MaxPool2d;
import org.cnn4j.layer.Pass;
import org.cnn4j.layer.ReLU;
import org.cnn4j.loss.SoftmaxCrossEntropy;
import org.cnn4j.loss.SquaredError;
import org.cnn4j.optim.Sgd;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every mistake a user can make with shapes and labels fails early with a message naming the layer and both shapes. */
class BadInputTest {
    private static final Backend B = Backends.CPU;

    private static void assertMessage(Executable e, String... parts) {
        Exception ex = assertThrows(IllegalArgumentException.class, e);
        for (String part : parts) assertTrue(ex.getMessage().contains(part), "message '" + ex.getMessage() + "' lacks '" + part + "'");
    }

    private static Graph.Builder fmnistCnn() {
        return Sequential.builder().input(1, 28, 28)
                .add(new Conv2d(1, 32, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Conv2d(32, 64, 3)).add(new ReLU()).add(new MaxPool2d(2))
                .add(new Flatten()).add(new Dense(1600, 128)).add(new ReLU()).add(new Dense(128, 10))
                .loss(new SoftmaxCrossEntropy());
    }

    @Test
    void wrongInputChannelsAtBuild() {
        assertMessage(() -> Sequential.builder().input(1, 28, 28).add(new Conv2d(3, 8, 3))
                        .loss(new SquaredError()).build(B),
                "conv2d_0", "Conv2d 3→8 3×3", "(n, 3, h, w)", "(n, 1, 28, 28)");
    }

    @Test
    void denseFedTheWrongSizeAtBuild() {
        assertMessage(() -> Sequential.builder().input(1, 28, 28)
                        .add(new Conv2d(1, 4, 3)).add(new Flatten()).add(new Dense(1600, 10))
                        .loss(new SoftmaxCrossEntropy()).build(B),
                "dense_2", "1600", "(n, 2704)");
    }

    @Test
    void kernelOrWindowLargerThanItsInput() {
        assertMessage(() -> Sequential.builder().input(1, 4, 4).add(new Conv2d(1, 2, 5))
                .loss(new SquaredError()).build(B), "conv2d_0", "5x5", "4x4");
        assertMessage(() -> Sequential.builder().input(1, 4, 4).add(new MaxPool2d(6))
                .loss(new SquaredError()).build(B), "maxpool2d_0", "6x6", "4x4");
    }

    @Test
    void wrongBatchShapeAtForward() {
        Graph model = fmnistCnn().build(B);
        Tensor cifar = B.allocate(Shape.of(8, 3, 32, 32));
        assertMessage(() -> model.forward(cifar, Pass.INFERENCE), "(n, 1, 28, 28)", "(8, 3, 32, 32)");
    }

    @Test
    void layerCalledDirectlyWithTheWrongShape() {
        Graph model = fmnistCnn().build(B);
        Layer dense = model.layers().get(7);
        assertMessage(() -> dense.forward(B.allocate(Shape.of(4, 1152)), Pass.INFERENCE), "dense_7", "Dense 1600→128", "(n, 1600)", "(4, 1152)");
        Layer conv = model.layers().get(3);
        assertMessage(() -> conv.forward(B.allocate(Shape.of(2, 16, 13, 13)), Pass.INFERENCE),
                "conv2d_3", "(n, 32, 13, 13)", "(2, 16, 13, 13)");
    }

    @Test
    void gradientOfTheWrongShapeInBackward() {
        Graph model = fmnistCnn().build(B);
        Layer conv = model.layers().get(0);
        conv.forward(B.allocate(Shape.of(2, 1, 28, 28)), Pass.training(0));
        assertMessage(() -> conv.backward(B.allocate(Shape.of(2, 32, 27, 27))), "conv2d_0", "(2, 32, 26, 26)", "(2, 32, 27, 27)");
    }

    @Test
    void labelOutsideTheClasses() {
        Graph model = fmnistCnn().build(B);
        Tensor x = B.allocate(Shape.of(3, 1, 28, 28));
        Tensor labels = B.uploadInts(Shape.of(3), new int[] {1, 12, 3});
        assertMessage(() -> model.trainStep(x, labels, new Sgd(0.1)), "label 12", "batch index 1", "10 classes");
        Tensor negative = B.uploadInts(Shape.of(3), new int[] {0, 1, -1});
        assertMessage(() -> model.evaluate(x, negative), "label -1", "batch index 2");
    }

    @Test
    void labelOutsideTheClassesForSquaredError() {
        Graph model = Sequential.builder().input(4).add(new Dense(4, 3)).loss(new SquaredError()).build(B);
        assertMessage(() -> model.evaluate(B.allocate(Shape.of(2, 4)), B.uploadInts(Shape.of(2), new int[] {3, 0})),
                "label 3", "batch index 0", "3 classes");
    }

    @Test
    void labelsAndImagesOfDifferentBatchSizes() {
        Graph model = fmnistCnn().build(B);
        assertMessage(() -> model.evaluate(B.allocate(Shape.of(3, 1, 28, 28)), B.uploadInts(Shape.of(5), new int[5])),
                "3 predictions", "5 targets");
    }

    @Test
    void tensorFromAnotherBackend() {
        Graph model = fmnistCnn().build(B);
        Tensor onReference = Backends.REFERENCE.allocate(Shape.of(1, 1, 28, 28));
        assertMessage(() -> model.forward(onReference, Pass.INFERENCE), "conv2d_0", "reference");
    }

    @Test
    void badSettings() {
        assertMessage(() -> new Dropout(1.0), "[0, 1)");
        assertMessage(() -> new Sgd(-0.1), "learning rate");
        assertMessage(() -> new Conv2d(0, 3, 3), "positive");
        assertMessage(() -> Shape.of(2, 0, 3), "below 1");
        assertMessage(() -> Sequential.builder().input(1, 8, 8).add(new Conv2d(1, 2, 3).stride(0))
                .loss(new SquaredError()).build(B), "conv2d_0", "stride");
        assertMessage(() -> Sequential.builder().input(4).add("a", new Dense(4, 4)).add("a", new Dense(4, 2))
                .loss(new SquaredError()).build(B), "'a'");
    }

    @Test
    void layersOfAModelThatFailedToBuildCanJoinAnother() {
        Conv2d good = new Conv2d(1, 2, 3), bad = new Conv2d(3, 2, 3);
        assertThrows(IllegalArgumentException.class,
                () -> Sequential.builder().input(1, 8, 8).add(good).add(bad).loss(new SquaredError()).build(B));
        Graph fixed = Sequential.builder().input(1, 8, 8).add(good).add(new Conv2d(2, 3, 3)).loss(new SquaredError()).build(B);
        assertEquals(4, fixed.parameters().size());
        Graph other = Sequential.builder().input(3, 8, 8).add(bad).loss(new SquaredError()).build(B);
        assertEquals(2, other.parameters().size());
    }

    @Test
    void aLayerCannotJoinTwoModels() {
        Conv2d conv = new Conv2d(1, 2, 3);
        Sequential.builder().input(1, 8, 8).add(conv).loss(new SquaredError()).build(B);
        Exception e = assertThrows(IllegalStateException.class,
                () -> Sequential.builder().input(1, 8, 8).add(conv).loss(new SquaredError()).build(B));
        assertTrue(e.getMessage().contains("copy()"), e.getMessage());
    }

    @Test
    void aFailedAllocationNamesTheLayer() {
        // A backend that runs out of memory for anything larger than 100,000 values, as a small GPU would.
        Backend cpu = Backends.CPU;
        Backend small = (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("allocate") && ((Shape) args[0]).size() > 100_000) {
                        throw new IllegalStateException("out of device memory: " + 4L * ((Shape) args[0]).size() + " bytes asked for, 0 free");
                    }
                    try {
                        return method.invoke(cpu, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        String m = assertThrows(IllegalStateException.class, () -> Models.fmnistCnn().build(small)).getMessage();
        assertEquals("layer 'fc1' (Dense 1600→128) cannot allocate its weight gradient (128, 1600): out of device memory: 819200 bytes asked for,"
                + " 0 free", m);
    }
}
