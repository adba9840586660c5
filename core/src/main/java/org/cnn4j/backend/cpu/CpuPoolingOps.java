package org.cnn4j.backend.cpu;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.backend.PoolingOps;
import org.cnn4j.tensor.Tensor;

/** Max and average pooling on the CPU backend: checks, then {@link CpuPooling}'s kernels. */
final class CpuPoolingOps extends CpuOps implements PoolingOps {
    private final CpuPooling pooling;

    CpuPoolingOps(CpuBackend backend, Parallel parallel) {
        super(backend, parallel);
        this.pooling = new CpuPooling(parallel);
    }

    private int[] ints(Tensor t) {
        return backend.intsOf(t);
    }

    @Override
    public void maxPoolForward(Tensor y, Tensor mask, Tensor x, PoolGeometry g) {
        Check.pool("maxPoolForward", y, x, g);
        Check.shape("maxPoolForward", "mask", mask, y.shape());
        pooling.maxForward(f(y), ints(mask), f(x), x.shape().n() * g.c(), g);
    }

    @Override
    public void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, PoolGeometry g) {
        maxPoolBackward(dx, dy, mask, null, g);
    }

    /** The gather and, with reluOutput (else null), the ReLU's backward plane by plane, in one parallel pass. */
    void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        Check.pool("maxPoolBackward", dy, dx, g);
        Check.shape("maxPoolBackward", "mask", mask, dy.shape());
        if (reluOutput != null) Check.shape("maxPoolBackward", "reluOutput", reluOutput, dx.shape());
        pooling.maxBackward(f(dx), f(dy), ints(mask), reluOutput == null ? null : f(reluOutput), dx.shape().n() * g.c(), g);
    }

    @Override
    public void avgPoolForward(Tensor y, Tensor x, PoolGeometry g) {
        Check.pool("avgPoolForward", y, x, g);
        pooling.avgForward(f(y), f(x), x.shape().n() * g.c(), g);
    }

    @Override
    public void avgPoolBackward(Tensor dx, Tensor dy, PoolGeometry g) {
        Check.pool("avgPoolBackward", dy, dx, g);
        pooling.avgBackward(f(dx), f(dy), dx.shape().n() * g.c(), g);
    }
}
