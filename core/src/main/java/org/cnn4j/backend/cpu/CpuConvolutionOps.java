package org.cnn4j.backend.cpu;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Check;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.ConvolutionOps;
import org.cnn4j.backend.HostBackend;
import org.cnn4j.tensor.Tensor;

/**
 * The convolution and its bias on the CPU backend: checks, then {@link CpuConvolution} (im2col and
 * the blocked SGEMM, or the direct kernels), the bias and ReLU applied as the results are written.
 */
final class CpuConvolutionOps extends CpuOps implements ConvolutionOps {
    private final CpuConvolution convolution;

    CpuConvolutionOps(CpuBackend backend, Parallel parallel) {
        super(backend, parallel);
        this.convolution = new CpuConvolution(parallel);
    }

    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, ConvGeometry g) {
        convForward(y, x, w, null, g);
    }

    /** The bias is added as the convolution's result is written out, instead of in a second pass over y. */
    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, Tensor b, ConvGeometry g) {
        convForward(y, x, w, b, Activation.IDENTITY, g);
    }

    /**
     * The convolution, bias and activation: ReLU is applied as the results are written out, as
     * max(v, 0) like {@link CpuBackend#activationForward}: bitwise the two passes.
     */
    void convForward(Tensor y, Tensor x, Tensor w, Tensor b, Activation fn, ConvGeometry g) {
        Check.conv("convForward", y, x, w, g);
        if (b != null) HostBackend.biasPlane("convForward", y, b);
        boolean relu = fn == Activation.RELU;
        convolution.forward(f(y), f(x), f(w), b == null ? null : f(b), relu, x.shape().n(), g);
        if (!relu && fn != Activation.IDENTITY) backend.activationForward(fn, y, y);
    }

    @Override
    public void convBackwardData(Tensor dx, Tensor dy, Tensor w, ConvGeometry g) {
        Check.conv("convBackwardData", dy, dx, w, g);
        convolution.backwardData(f(dx), f(dy), f(w), dx.shape().n(), g);
    }

    @Override
    public void convBackwardFilter(Tensor dw, Tensor x, Tensor dy, ConvGeometry g) {
        convBackwardFilter(dw, null, x, dy, g);
    }

    /** The bias gradient is summed from dy as the filter gradient passes over it, instead of in a second pass. */
    @Override
    public void convBackwardFilter(Tensor dw, Tensor db, Tensor x, Tensor dy, ConvGeometry g) {
        Check.conv("convBackwardFilter", dy, x, dw, g);
        if (db != null) HostBackend.biasPlane("convBackwardFilter", dy, db);
        convolution.backwardFilter(f(dw), db == null ? null : f(db), f(x), f(dy), x.shape().n(), g);
    }

    @Override
    public void addBias(Tensor y, Tensor b) {
        int plane = HostBackend.biasPlane("addBias", y, b), k = b.size();
        float[] yd = f(y), bd = f(b);
        parallel.forRange(y.shape().rows() * k, Math.max(1, CpuBackend.ELEMENT_GRAIN / plane), (lo, hi) -> {
            for (int nk = lo; nk < hi; nk++) {
                float bias = bd[nk % k];
                int off = nk * plane;
                for (int i = 0; i < plane; i++) yd[off + i] += bias;
            }
        });
    }

    @Override
    public void biasBackward(Tensor db, Tensor dy) {
        int plane = HostBackend.biasPlane("biasBackward", dy, db), k = db.size(), n = dy.shape().rows();
        float[] d = f(dy), out = f(db);
        // One channel per task, summed in double over the batch in order: thread-count independent.
        parallel.forRange(k, 1, (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += CpuConvolution.sum(d, (i * k + c) * plane, plane);
                out[c] += (float) s;
            }
        });
    }
}
