package org.cnn4j.backend.cuda;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.backend.PoolingOps;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Tensor;

/** Max and average pooling on the GPU: the PTX kernels of pooling.ptx. */
final class CudaPoolingOps extends CudaOps implements PoolingOps {
    CudaPoolingOps(CudaBackend backend) {
        super(backend);
    }

    @Override
    public void maxPoolForward(Tensor y, Tensor mask, Tensor x, PoolGeometry g) {
        current();
        Check.pool("maxPoolForward", y, x, g);
        Check.shape("maxPoolForward", "mask", mask, y.shape());
        Check.dtype("maxPoolForward", "mask", mask, DType.INT32);
        int planes = x.shape().n() * g.c();
        launch("max_pool_forward", y.size(), CudaBackend.args(new Object[] {t(y, "maxPoolForward", "y").pointer(), t(mask, "maxPoolForward", "mask").pointer(),
                t(x, "maxPoolForward", "x").pointer()}, CudaBackend.sizes(planes, g), g.dilationH(), g.dilationW()));
    }

    @Override
    public void maxPoolBackward(Tensor dx, Tensor dy, Tensor mask, PoolGeometry g) {
        maxPoolBackward(dx, null, dy, mask, null, g);
    }
    /**
     * The gather and, with reluOutput (else null), the ReLU's backward in one kernel; with db (else
     * null), also the bias gradient of the convolution below: from the per-plane sums that the cell
     * kernel leaves, or a pass over dx.
     */
    void maxPoolBackward(Tensor dx, Tensor db, Tensor dy, Tensor mask, Tensor reluOutput, PoolGeometry g) {
        current();
        Check.pool("maxPoolBackward", dy, dx, g);
        Check.shape("maxPoolBackward", "mask", mask, dy.shape());
        if (reluOutput != null) Check.shape("maxPoolBackward", "reluOutput", reluOutput, dx.shape());
        if (db != null) CudaConvolutionOps.biasShape("maxPoolBackward", dx, db);
        int planes = dx.shape().n() * g.c();
        Object[] tensors = {t(dx, "maxPoolBackward", "dx").pointer(), t(dy, "maxPoolBackward", "dy").pointer(),
                t(mask, "maxPoolBackward", "mask").pointer()};
        Object relu = reluOutput == null ? null : t(reluOutput, "maxPoolBackward", "reluOutput").pointer();
        if (CudaBackend.disjoint(g) && backend.warpPerPlane(planes, (long) g.p() * g.q())) {
            // A lane per output writing its cell of inputs, a warp per plane, and the planes' sums of dx
            backend.summingPlanes("max_pool_backward_cells", planes, CudaBackend.args(tensors, new Object[] {planes, g.h(), g.w(), g.p(), g.q(),
                    g.strideH(), g.strideW()}, relu, backend.partials));
            if (db != null) backend.planeSumsToBias(db, dx.shape());
        } else { // one thread per input, gathering from every window that covers it
            launch("max_pool_backward", dx.size(), CudaBackend.args(tensors, CudaBackend.spans(planes, g), relu));
            if (db != null) backend.biasBackward(db, dx);
        }
    }

    @Override
    public void avgPoolForward(Tensor y, Tensor x, PoolGeometry g) {
        current();
        Check.pool("avgPoolForward", y, x, g);
        int planes = x.shape().n() * g.c();
        launch("avg_pool_forward", y.size(), CudaBackend.args(new Object[] {t(y, "avgPoolForward", "y").pointer(), t(x, "avgPoolForward", "x").pointer()},
                CudaBackend.sizes(planes, g), 1f / (g.windowH() * g.windowW())));
    }

    @Override
    public void avgPoolBackward(Tensor dx, Tensor dy, PoolGeometry g) {
        current();
        Check.pool("avgPoolBackward", dy, dx, g);
        int planes = dx.shape().n() * g.c();
        DevicePointer dxp = t(dx, "avgPoolBackward", "dx").pointer(), dyp = t(dy, "avgPoolBackward", "dy").pointer();
        float scale = 1f / (g.windowH() * g.windowW());
        if (backend.poolCells && CudaBackend.disjoint(g)) {
            backend.spreadCells(dxp, dyp, null, planes, g, scale);
        } else {
            launch("avg_pool_backward", dx.size(), CudaBackend.args(new Object[] {dxp, dyp}, CudaBackend.sizes(planes, g), scale));
        }
    }
}
