package org.cnn4j.backend.cuda;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.CombinationPenalty;
import org.cnn4j.backend.FeatureMapOps;
import org.cnn4j.backend.PoolGeometry;
import org.cnn4j.tensor.FloatTensor;
import org.cnn4j.tensor.Tensor;

/** Subsampling (pooling.ptx) and, on the host, learned feature-map combinations (small and rare) on the GPU backend. */
final class CudaFeatureMapOps extends CudaOps implements FeatureMapOps {
    CudaFeatureMapOps(CudaBackend backend) {
        super(backend);
    }

    @Override
    public void subsampleForward(Tensor y, Tensor x, Tensor beta, Tensor b, PoolGeometry g) {
        current();
        Check.subsample("subsampleForward", y, x, beta, b, g);
        int planes = x.shape().n() * g.c();
        launch("subsample_forward", y.size(), CudaBackend.args(new Object[] {t(y, "subsampleForward", "y").pointer(), t(x, "subsampleForward", "x").pointer(),
                t(beta, "subsampleForward", "beta").pointer(), t(b, "subsampleForward", "b").pointer()}, CudaBackend.sizes(planes, g), g.c()));
    }

    @Override
    public void subsampleBackward(Tensor dx, Tensor dbeta, Tensor db, Tensor dy, Tensor x, Tensor beta, PoolGeometry g) {
        current();
        Check.subsample("subsampleBackward", dy, x, dbeta, db, g);
        Check.shape("subsampleBackward", "dx", dx, x.shape());
        Check.shape("subsampleBackward", "beta", beta, dbeta.shape());
        int planes = x.shape().n() * g.c();
        DevicePointer dxp = t(dx, "subsampleBackward", "dx").pointer(), dyp = t(dy, "subsampleBackward", "dy").pointer();
        DevicePointer betap = t(beta, "subsampleBackward", "beta").pointer();
        if (backend.poolCells && CudaBackend.disjoint(g)) {
            backend.spreadCells(dxp, dyp, betap, planes, g, 1f);
        } else {
            launch("subsample_backward_data", dx.size(), CudaBackend.args(new Object[] {dxp, dyp, betap}, CudaBackend.sizes(planes, g), g.c()));
        }
        // Blocks of exactly 256 threads (the kernels' reduction tree assumes it): a few per channel, each
        // summing its share into the partial sums, then one thread per channel adding them up in order;
        // where one block per channel keeps the GPU busy, that block does it all.
        DevicePointer xp = t(x, "subsampleBackward", "x").pointer();
        DevicePointer dbetap = t(dbeta, "subsampleBackward", "dbeta").pointer(), dbp = t(db, "subsampleBackward", "db").pointer();
        int parts = parts(g.c(), (long) x.shape().n() * g.p() * g.q());
        if (parts > 1) {
            backend.driver.launch("subsample_params_partial", g.c() * parts, 256, 0, CudaBackend.args(new Object[] {backend.partials, dyp, xp}, CudaBackend.sizes(planes, g), g.c(), parts));
            launch("subsample_params_finish", g.c(), dbetap, dbp, backend.partials, g.c(), parts);
        } else {
            backend.driver.launch("subsample_backward_params", g.c(), 256, 0, CudaBackend.args(new Object[] {dbetap, dbp, dyp, xp}, CudaBackend.sizes(planes, g), g.c()));
        }
    }

    /**
     * Blocks per channel for a per-channel reduction over {@code perChannel} values: enough blocks in
     * all to fill a large GPU (about 256), no block with fewer than 256 values, at most 32, and the
     * partial sums within {@link CudaBackend#PARTIAL_PAIRS}. LeNet-5's S2 (6 channels, 50,176 values each at
     * batch 256): 32 blocks each instead of one.
     */
    static int parts(int channels, long perChannel) {
        long byWork = Math.max(1, perChannel / 256);
        return (int) Math.max(1, Math.min(Math.min(32, byWork), Math.min((256 + channels - 1) / channels, CudaBackend.PARTIAL_PAIRS / channels)));
    }

    @Override
    public void combinationForward(Tensor wEff, Tensor alpha, Tensor k, Tensor c) {
        current();
        FloatTensor hw = backend.onHost(wEff), ha = backend.onHost(alpha);
        backend.host.combinationForward(hw, ha, backend.onHost(k), backend.onHost(c));
        backend.write(wEff, hw.data());
        backend.write(alpha, ha.data());
    }

    @Override
    public void combinationBackward(Tensor dk, Tensor dc, Tensor dwEff, Tensor alpha, Tensor k, CombinationPenalty penalty, double lambda) {
        current();
        FloatTensor hdk = backend.onHost(dk), hdc = backend.onHost(dc); // they accumulate: start from their current values
        backend.host.combinationBackward(hdk, hdc, backend.onHost(dwEff), backend.onHost(alpha), backend.onHost(k), penalty, lambda);
        backend.write(dk, hdk.data());
        backend.write(dc, hdc.data());
    }

    @Override
    public double combinationPenalty(Tensor alpha, CombinationPenalty penalty, double lambda) {
        current();
        FloatTensor ha = backend.onHost(alpha);
        return backend.host.combinationPenalty(ha, penalty, lambda);
    }
}
