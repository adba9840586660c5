package org.cnn4j.backend;

import static org.cnn4j.testing.Close.assertClose;
import static org.cnn4j.testing.Close.maxAbs;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.TorchFixtures;
import org.cnn4j.testing.TorchFixtures.Case;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every backend against values that PyTorch computed in float64 (scripts/torch-fixtures.py): an
 * independent implementation of the same conventions (cross-correlation, floor-mode pooling,
 * count_include_pad, PyTorch's SGD and Adam). Tolerance: 1e-10 relative to the data's scale on the
 * float64 reference; 1e-4 on float32 backends (sums of up to ~100 products, float32 epsilon 6e-8).
 */
class TorchFixtureTest {

    static Stream<Arguments> cases(String prefix) {
        List<Arguments> out = new ArrayList<>();
        Backends.all().forEach(b -> TorchFixtures.named(prefix).forEach(c -> out.add(Arguments.of(b, c))));
        return out.stream();
    }

    static Stream<Arguments> convCases() {
        return cases("conv_");
    }

    static Stream<Arguments> poolCases() {
        return Stream.concat(cases("max_"), cases("avg_"));
    }

    static Stream<Arguments> denseCases() {
        return cases("dense");
    }

    static Stream<Arguments> crossEntropyCases() {
        return cases("cross_entropy");
    }

    static Stream<Arguments> optimizerCases() {
        return Stream.concat(cases("sgd"), cases("adam"));
    }

    static Stream<Arguments> batchNormCases() {
        return cases("batchnorm_");
    }

    static Stream<Arguments> activationCases() {
        return cases("act_");
    }

    private static Tensor up(Backend b, TorchFixtures.Array a) {
        return b.upload(a.shape(), a.values());
    }

    private static void check(String what, Backend b, TorchFixtures.Array expected, Tensor actual) {
        TorchFixtures.assertMatches(what, b, expected, actual);
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("convCases")
    void convolutionMatchesPyTorch(Backend b, Case c) {
        TorchFixtures.Array x = c.tensor("x"), w = c.tensor("w");
        ConvGeometry g = new ConvGeometry(x.shape().c(), x.shape().h(), x.shape().w(), w.shape().dim(0), w.shape().dim(2),
                w.shape().dim(3), c.intParam("padH"), c.intParam("padW"), c.intParam("strideH"), c.intParam("strideW"),
                c.intParam("dilationH"), c.intParam("dilationW"));
        Tensor tx = up(b, x), tw = up(b, w), tb = up(b, c.tensor("b")), dy = up(b, c.tensor("dy"));
        Tensor y = b.allocate(c.tensor("y").shape());
        b.convForward(y, tx, tw, g);
        b.addBias(y, tb);
        check(c + " y", b, c.tensor("y"), y);

        Tensor dx = b.upload(x.shape(), new float[x.shape().size()]);
        b.fill(dx, 123); // overwritten, not accumulated
        b.convBackwardData(dx, dy, tw, g);
        check(c + " dx", b, c.tensor("dx"), dx);

        Tensor dw = b.allocate(w.shape()), db = b.allocate(Shape.of(w.shape().dim(0)));
        b.convBackwardFilter(dw, tx, dy, g);
        b.biasBackward(db, dy);
        check(c + " dw", b, c.tensor("dw"), dw);
        check(c + " db", b, c.tensor("db"), db);
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("poolCases")
    void poolingMatchesPyTorch(Backend b, Case c) {
        TorchFixtures.Array x = c.tensor("x");
        PoolGeometry g = new PoolGeometry(x.shape().c(), x.shape().h(), x.shape().w(), c.intParam("windowH"), c.intParam("windowW"),
                c.intParam("strideH"), c.intParam("strideW"), c.intParam("padH"), c.intParam("padW"));
        Tensor tx = up(b, x), dy = up(b, c.tensor("dy"));
        Tensor y = b.allocate(c.tensor("y").shape()), dx = b.allocate(x.shape());
        b.fill(dx, 123);
        if (c.param("kind").equals("max")) {
            Tensor mask = b.allocateInts(y.shape());
            b.maxPoolForward(y, mask, tx, g);
            b.maxPoolBackward(dx, dy, mask, g);
        } else {
            b.avgPoolForward(y, tx, g);
            b.avgPoolBackward(dx, dy, g);
        }
        check(c + " y", b, c.tensor("y"), y);
        check(c + " dx", b, c.tensor("dx"), dx);
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("denseCases")
    void denseAlgebraMatchesPyTorch(Backend b, Case c) {
        Tensor x = up(b, c.tensor("x")), w = up(b, c.tensor("w")), bias = up(b, c.tensor("b")), dy = up(b, c.tensor("dy"));
        Tensor y = b.allocate(c.tensor("y").shape());
        b.gemm(false, true, 1, x, w, 0, y);
        b.addBias(y, bias);
        check("y", b, c.tensor("y"), y);
        Tensor dx = b.allocate(x.shape()), dw = b.allocate(w.shape()), db = b.allocate(bias.shape());
        b.gemm(false, false, 1, dy, w, 0, dx);
        b.gemm(true, false, 1, dy, x, 1, dw);
        b.biasBackward(db, dy);
        check("dx", b, c.tensor("dx"), dx);
        check("dw", b, c.tensor("dw"), dw);
        check("db", b, c.tensor("db"), db);
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("crossEntropyCases")
    void softmaxCrossEntropyMatchesPyTorch(Backend b, Case c) {
        Tensor logits = up(b, c.tensor("logits"));
        double[] labelValues = c.tensor("labels").values();
        int[] labels = new int[labelValues.length];
        for (int i = 0; i < labels.length; i++) labels[i] = (int) labelValues[i];
        int n = labels.length;
        Tensor loss = b.allocate(Shape.of(n)), dx = b.allocate(logits.shape());
        b.softmaxCrossEntropy(loss, dx, logits, b.uploadInts(Shape.of(n), labels), 1.0 / n);
        check("mean loss", b, c.tensor("loss"), b.upload(Shape.of(1), new double[] {b.sum(loss) / n}));
        check("dlogits", b, c.tensor("dlogits"), dx);
    }

    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("optimizerCases")
    void optimizerMatchesPyTorch(Backend b, Case c) {
        TorchFixtures.Array w0 = c.tensor("w0");
        Tensor w = up(b, w0), s1 = b.allocate(w0.shape()), s2 = b.allocate(w0.shape());
        for (int t = 1; t <= c.intParam("steps"); t++) {
            Tensor g = up(b, c.tensor("g" + (t - 1)));
            if (c.name().startsWith("sgd")) {
                b.sgdStep(w, s1, g, c.doubleParam("lr"), c.doubleParam("momentum"), c.doubleParam("weightDecay"),
                        Boolean.parseBoolean(c.param("nesterov")));
            } else {
                b.adamStep(w, s1, s2, g, c.doubleParam("lr"), c.doubleParam("beta1"), c.doubleParam("beta2"), c.doubleParam("eps"),
                        c.doubleParam("weightDecay"), Boolean.parseBoolean(c.param("decoupled")), t);
            }
        }
        check("w after " + c.param("steps") + " steps", b, c.tensor("w"), w);
    }

    /**
     * torch.nn.BatchNorm2d / 1d: running statistics after several training batches (momentum, the
     * unbiased variance), the training pass's output and gradients on the last batch, and the
     * inference output from the running statistics.
     */
    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("batchNormCases")
    void batchNormMatchesPyTorch(Backend b, Case c) {
        TorchFixtures.Array xa = c.tensor("x");
        int channels = xa.shape().dim(1);
        Shape cs = Shape.of(channels);
        double momentum = c.doubleParam("momentum"), eps = c.doubleParam("eps");
        Tensor gamma = up(b, c.tensor("weight")), beta = up(b, c.tensor("bias"));
        Tensor runMean = b.upload(cs, new double[channels]), runVar = b.upload(cs, java.util.Collections.nCopies(channels, 1.0).stream().mapToDouble(d -> d).toArray());
        Tensor mean = b.allocate(cs), invStd = b.allocate(cs), y = b.allocate(xa.shape());
        for (int i = 0; i < c.intParam("steps") - 1; i++) {
            b.batchNormTraining(y, mean, invStd, up(b, c.tensor("x" + i)), gamma, beta, runMean, runVar, momentum, eps);
        }
        Tensor x = up(b, xa);
        b.fill(y, Double.NaN);
        b.batchNormTraining(y, mean, invStd, x, gamma, beta, runMean, runVar, momentum, eps);
        check("training output", b, c.tensor("y"), y);
        check("running mean", b, c.tensor("running_mean"), runMean);
        check("running variance", b, c.tensor("running_var"), runVar);
        Tensor dx = b.allocate(xa.shape()), dgamma = b.allocate(cs), dbeta = b.allocate(cs);
        b.fill(dx, Double.NaN);
        b.batchNormBackward(dx, dgamma, dbeta, up(b, c.tensor("dy")), x, gamma, mean, invStd);
        check("dx", b, c.tensor("dx"), dx);
        check("dweight", b, c.tensor("dweight"), dgamma);
        check("dbias", b, c.tensor("dbias"), dbeta);
        Tensor yi = b.allocate(xa.shape());
        b.fill(yi, Double.NaN);
        b.batchNormInference(yi, x, gamma, beta, runMean, runVar, eps);
        check("inference output", b, c.tensor("y_inference"), yi);
    }

    /**
     * torch.nn.LeakyReLU (a positive and a negative slope), SiLU and GELU (erf form): output and input
     * gradient, at the kinks (0, ±1e-3) and in the tails (±10, −30) too.
     */
    @ParameterizedTest(name = "{1} on {0}", autoCloseArguments = false)
    @MethodSource("activationCases")
    void activationMatchesPyTorch(Backend b, Case c) {
        Activation.Kind kind = Activation.Kind.valueOf(c.param("kind"));
        Activation f = kind == Activation.Kind.LEAKY_RELU ? Activation.leakyRelu(c.doubleParam("slope")) : Activation.of(kind);
        TorchFixtures.Array xa = c.tensor("x");
        Tensor x = up(b, xa), y = b.allocate(xa.shape()), dx = b.allocate(xa.shape());
        b.fill(y, Double.NaN);
        b.fill(dx, Double.NaN);
        b.activationForward(f, y, x);
        check(f + " forward", b, c.tensor("y"), y);
        b.activationBackward(f, dx, up(b, c.tensor("dy")), x, y);
        check(f + " backward", b, c.tensor("dx"), dx);
    }
}
