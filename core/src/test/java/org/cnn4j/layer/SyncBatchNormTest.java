package org.cnn4j.layer;

import static org.cnn4j.testing.Close.assertClose;

import java.util.Random;

import org.cnn4j.distributed.Communicator;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.cnn4j.testing.Twins;
import org.junit.jupiter.api.Test;

/**
 * Synchronised batch normalisation against the backend's own: a job of two processes with the same
 * batch (a communicator whose all-reduce doubles every sum) has its statistics, so it must compute
 * what the layer computes alone — output, input gradient, γ's and β's gradients, running mean, and
 * the running variance but for its unbiasing over twice the values.
 */
class SyncBatchNormTest {

    /** Two processes holding the same values: every sum doubles. */
    private static final Communicator TWINS = new Twins();

    @Test
    void aJobOfTwinBatchesNormalisesAsOneBatch() {
        Shape in = Shape.of(3, 4, 5);
        double[] x = Data.gaussian(new Random(1), 6 * in.size(), 2), dy = Data.gaussian(new Random(2), 6 * in.size(), 1);
        double[][] results = new double[2][];
        double[][] gradients = new double[2][];
        double[][] running = new double[2][];
        for (int k = 0; k < 2; k++) {
            BatchNorm2d bn = new BatchNorm2d(3);
            bn.bind("bn", Backends.REFERENCE, in, 1);
            Backends.REFERENCE.write(bn.parameters().get(0).value(), new double[] {1.5, -0.5, 2});
            Backends.REFERENCE.write(bn.parameters().get(1).value(), new double[] {0.1, 0.2, -0.3});
            if (k == 1) bn.synchronisedOver(TWINS);
            Tensor y = bn.forward(Backends.REFERENCE.upload(in.batch(6), x), Pass.training(0));
            Tensor dx = bn.backward(Backends.REFERENCE.upload(in.batch(6), dy));
            results[k] = concat(y.toDoubleArray(), dx.toDoubleArray());
            gradients[k] = concat(bn.parameters().get(0).gradient().toDoubleArray(), bn.parameters().get(1).gradient().toDoubleArray());
            running[k] = concat(bn.state().get(0).value().toDoubleArray(), bn.state().get(1).value().toDoubleArray());
        }
        assertClose("output and input gradient", results[0], results[1], 1e-10, 1e-10);
        assertClose("γ and β gradients", gradients[0], gradients[1], 1e-10, 1e-10);
        // the running variance is unbiased over the job's 2·M values, not the batch's M: (M − 1)/M · 2M/(2M − 1) times the batch's update
        double m = 6 * 4 * 5, momentum = 0.1;
        for (int ch = 3; ch < 6; ch++) running[0][ch] = (1 - momentum) + (running[0][ch] - (1 - momentum)) * (m - 1) / m * 2 * m / (2 * m - 1);
        assertClose("running statistics", running[0], running[1], 1e-10, 1e-10);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
