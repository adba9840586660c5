package org.cnn4j.layer;

import static org.cnn4j.testing.Close.assertClose;
import static org.cnn4j.testing.Close.maxAbs;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Stream;

import org.cnn4j.model.GradientChecker;
import org.cnn4j.model.Graph;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.LayerCase;
import org.cnn4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every layer, forward and backward:
 * <ul>
 *   <li>On the float64 reference backend, the gradient checker's central differences confirm
 *       every parameter gradient and the input gradient. Rule: |analytic − numeric| /
 *       max(|analytic|, |numeric|, 1e-4) below 1e-3 for every element, and at most 5% of the
 *       elements skipped as kinks (a ReLU at 0, a max tie, within ε = 1e-5).</li>
 *   <li>The CPU backend's forward output, parameter gradients and input gradient agree with that
 *       reference (the naive double-precision loops) from the same weights and inputs, within
 *       float32 rounding: 1e-4 relative to the data's scale.</li>
 * </ul>
 */
class LayerGradientTest {

    static Stream<LayerCase> layers() {
        return LayerCase.all().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layers")
    void gradientsMatchCentralDifferencesInDouble(LayerCase c) {
        Graph model = c.model(Backends.REFERENCE, 5);
        GradientChecker.Report report = GradientChecker.check(model, c.input(Backends.REFERENCE, 2, 5), LayerCase.targets(model, 2, 5));
        assertTrue(report.passed(1e-3), c + ":\n" + report);
        assertTrue(report.checked() > 0, "something was checked");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layers")
    void cpuAgreesWithTheReferenceLoops(LayerCase c) {
        Graph cpu = c.model(Backends.CPU, 9);
        Graph ref = cpu.copyTo(Backends.REFERENCE);
        cpu.computeInputGradient(true);
        ref.computeInputGradient(true);
        int n = 3;
        Tensor x = c.input(Backends.CPU, n, 9), t = LayerCase.targets(cpu, n, 9);
        Tensor xRef = Backends.REFERENCE.upload(x.shape(), x.toDoubleArray());
        Tensor tRef = Backends.REFERENCE.upload(t.shape(), t.toDoubleArray());

        Result rc = run(cpu, x, t), rr = run(ref, xRef, tRef);
        assertClose(c + " loss", new double[] {rr.loss()}, new double[] {rc.loss()}, 0, 1e-4);
        compare(c + " input gradient", rr.dx(), rc.dx());
        List<Parameter> pc = cpu.parameters(), pr = ref.parameters();
        for (int i = 0; i < pc.size(); i++) compare(c + " " + pc.get(i).name(), pr.get(i).gradient(), pc.get(i).gradient());
        compare(c + " output", ref.forward(xRef, Pass.training(0)), cpu.forward(x, Pass.training(0)));
    }

    private record Result(double loss, Tensor dx) {
    }

    private static Result run(Graph model, Tensor x, Tensor t) {
        model.zeroGradients();
        double loss = model.loss(model.forward(x, Pass.training(0)), t, true);
        return new Result(loss, model.backward());
    }

    private static void compare(String what, Tensor expected, Tensor actual) {
        double[] e = expected.toDoubleArray();
        assertClose(what, e, actual.toDoubleArray(), 1e-4 * Math.max(1, maxAbs(e)), 1e-4);
    }
}
