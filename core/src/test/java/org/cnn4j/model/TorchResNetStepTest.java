package org.cnn4j.model;

import static org.cnn4j.testing.Close.assertClose;
import static org.cnn4j.testing.Close.maxAbs;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import org.cnn4j.backend.Backend;
import org.cnn4j.io.Safetensors;
import org.cnn4j.layer.Layer;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A whole resnet20 training step against PyTorch 1.13 in float64 (scripts/torch-fixtures.py writes
 * resnet20-step.safetensors: the same network, with torchvision's names, from the same weights,
 * running statistics, input and labels): the loss, every parameter's gradient and the running
 * statistics after the step. The expected values were rounded to float32 when written, so the
 * reference backend is held to 1e-6 of each tensor's scale; float32 backends to 1e-4 (about sixty
 * layers of float32 rounding, with batch normalisation dividing by small deviations).
 */
class TorchResNetStepTest {
    static Stream<Backend> backends() {
        return Backends.all();
    }

    private static Map<String, Safetensors.Entry> fixture() throws IOException {
        try {
            return Safetensors.read(Path.of(TorchResNetStepTest.class.getResource("/resnet20-step.safetensors").toURI())).tensors();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static double[] doubles(Safetensors.Entry e) {
        double[] d = new double[e.values().length];
        for (int i = 0; i < d.length; i++) d[i] = e.values()[i];
        return d;
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false) // the shared backends stay open
    @MethodSource("backends")
    void aResNet20StepMatchesPyTorch(Backend b) throws IOException {
        Map<String, Safetensors.Entry> t = fixture();
        double tol = b.precision() == org.cnn4j.tensor.DType.FLOAT64 ? 1e-6 : 1e-4;
        try (Graph model = Models.resnet20(1, 8, 8, 10).build(b)) {
            for (Parameter p : model.parameters()) b.write(p.value(), doubles(t.get("param/" + p.name())));
            for (Layer.State s : model.state()) {
                if (!s.name().endsWith(".num_batches_tracked")) b.write(s.value(), doubles(t.get("param/" + s.name())));
            }
            Safetensors.Entry xs = t.get("x");
            Tensor x = b.upload(Shape.of(xs.shape()), doubles(xs));
            int[] labels = java.util.Arrays.stream(doubles(t.get("labels"))).mapToInt(v -> (int) v).toArray();
            Tensor y = b.uploadInts(Shape.of(labels.length), labels);
            model.zeroGradients();
            double loss = model.loss(model.forward(x, Pass.training(0)), y, true);
            model.backward();
            assertClose("loss on " + b.name(), doubles(t.get("loss")), new double[] {loss}, 0, tol);
            int compared = 0;
            for (Parameter p : model.parameters()) {
                double[] expected = doubles(t.get("grad/" + p.name()));
                assertClose("gradient of " + p.name() + " on " + b.name(), expected, p.gradient().toDoubleArray(), tol * Math.max(1e-3, maxAbs(expected)), tol);
                compared++;
            }
            for (Layer.State s : model.state()) {
                double[] expected = s.name().endsWith(".num_batches_tracked") ? new double[] {1} : doubles(t.get("after/" + s.name()));
                assertClose(s.name() + " after the step on " + b.name(), expected, s.value().toDoubleArray(), tol * Math.max(1, maxAbs(expected)), tol);
                compared++;
            }
            assertEquals(65 + 3 * 21, compared, "every parameter's gradient, every running statistic and batch count");
        }
    }
}
