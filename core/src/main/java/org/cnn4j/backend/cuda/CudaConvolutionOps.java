package org.cnn4j.backend.cuda;

import java.util.HashMap;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.cnn4j.backend.Activation;
import org.cnn4j.backend.Check;
import org.cnn4j.backend.ConvGeometry;
import org.cnn4j.backend.ConvolutionOps;
import org.cnn4j.tensor.Tensor;

/**
 * The convolution and its bias on the GPU: cuDNN with the algorithm measured fastest per shape
 * (within the workspace limit; strict float32 refuses tensor-core math), and convolution + bias +
 * ReLU in one cuDNN call where it is allowed.
 */
final class CudaConvolutionOps extends CudaOps implements ConvolutionOps {
    private static final Logger log = LoggerFactory.getLogger(CudaBackend.class);
    /**
     * Zero-fills the fused convolution's output, which is also cuDNN's z input (weight 0), before the
     * call. -Dcnn4j.zeroFusedZ=false leaves it as it is, only for the GPU report's probe of whether
     * cuDNN reads z: with it off, a NaN left in y by an earlier use of its memory may come through.
     */
    private static final boolean ZERO_FUSED_Z = !"false".equals(System.getProperty("cnn4j.zeroFusedZ"));

    /** Algorithms chosen by cuDNN's heuristics where the search could not allocate, by shape and direction. */
    private final Map<String, Dnn.Choice> unsearched = new HashMap<>();
    private boolean fusedConvolutions = !"false".equals(System.getProperty("cnn4j.cudnnFusion"));
    private DevicePointer workspace;
    private long workspaceBytes;

    CudaConvolutionOps(CudaBackend backend) {
        super(backend);
    }

    /** Frees the cuDNN workspace (when the backend closes). */
    void release() {
        if (workspace != null) backend.memory.release(workspace, workspaceBytes);
        workspace = null;
    }

    private int mathType() {
        return backend.options.tf32() ? Dnn.DEFAULT_MATH : Dnn.FMA_MATH;
    }

    /**
     * The algorithm for one convolution with a workspace to run it: the measured fastest within the
     * limit; when that workspace cannot be had, the fastest measured that needs none. When the
     * search itself cannot allocate (cuDNN times each algorithm in buffers of its own), the
     * allocator's cached blocks go back to the driver and the search runs once more; if it still
     * cannot, cuDNN's heuristics pick one that needs no workspace, kept for that shape.
     */
    private Dnn.Choice algorithm(ConvGeometry g, int n, Dnn.Direction d) {
        // the heuristics' fallbacks are rare: a step's convolutions skip building their key
        Dnn.Choice c = unsearched.isEmpty() ? null : unsearched.get(g + "/" + n + "/" + d);
        if (c != null) return c;
        try {
            c = backend.cudnn.choose(g, n, d, mathType(), backend.options.workspaceLimit(), backend.options.deterministic());
        } catch (Dnn.SearchOutOfMemory full) {
            backend.memory.emptyCache();
            try {
                c = backend.cudnn.choose(g, n, d, mathType(), backend.options.workspaceLimit(), backend.options.deterministic());
            } catch (Dnn.SearchOutOfMemory still) {
                c = backend.cudnn.chooseWithoutSearch(g, n, d, mathType(), backend.options.deterministic());
                log.warn("cuDNN's algorithm search for {} {} batch {} cannot allocate, even with the memory cache emptied ({}); "
                        + "using {}, which needs no workspace, as cuDNN's heuristics rank it", d, g, n, still.getMessage(), d.algorithm(c.algo()));
                unsearched.put(g + "/" + n + "/" + d, c);
                return c;
            }
        }
        if (c.workspace() > workspaceBytes) {
            try {
                DevicePointer bigger = backend.memory.allocate(c.workspace(), "the cuDNN workspace for " + d + " " + g);
                if (workspace != null) backend.memory.release(workspace, workspaceBytes);
                workspace = bigger;
                workspaceBytes = c.workspace();
            } catch (CudaException outOfMemory) {
                log.warn("no room for a {}-byte cuDNN workspace ({}); using an algorithm without one", c.workspace(), outOfMemory.getMessage());
                c = backend.cudnn.choose(g, n, d, mathType(), 0, backend.options.deterministic());
            }
        }
        return c;
    }

    /** cuDNN's name of the algorithm this backend runs for a convolution pass (choosing it if it has not yet). */
    String algorithmName(ConvGeometry g, int n, Dnn.Direction d) {
        current();
        return d.algorithm(algorithm(g, n, d).algo());
    }

    private long workspaceAddress() {
        return workspace == null ? 0 : workspace.address();
    }

    @Override
    public void convForward(Tensor y, Tensor x, Tensor w, ConvGeometry g) {
        current();
        Check.conv("convForward", y, x, w, g);
        int n = x.shape().n();
        Dnn.Choice c = algorithm(g, n, Dnn.Direction.FORWARD);
        backend.cudnn.convolutionForward(g, n, c, a(x, "convForward", "x"), a(w, "convForward", "w"), a(y, "convForward", "y"), workspaceAddress());
    }

    /**
     * Convolution, bias and ReLU in one cuDNN call (cudnnConvolutionBiasActivationForward), with the
     * forward algorithm chosen for the plain convolution; other activations, or no bias, as the
     * convolution and then the activation kernel in place. Should cuDNN refuse the fused call, the
     * backend says so once and keeps to the separate calls.
     */
    void convForward(Tensor y, Tensor x, Tensor w, Tensor b, Activation f, ConvGeometry g) {
        if (f != Activation.RELU || b == null || !fusedConvolutions) {
            convForward(y, x, w, g);
            backend.biasActivation(y, b, f);
            return;
        }
        current();
        Check.conv("convForward", y, x, w, g);
        biasShape("convForward", y, b);
        int n = x.shape().n();
        Dnn.Choice c = algorithm(g, n, Dnn.Direction.FORWARD);
        try {
            // y is also the call's z (weight 0): zeros, never a recycled block's NaN
            if (ZERO_FUSED_Z) backend.driver.fill32(t(y, "convForward", "y").pointer(), 0, y.size());
            backend.cudnn.convolutionBiasReluForward(g, n, c, a(x, "convForward", "x"), a(w, "convForward", "w"), a(b, "convForward", "b"),
                    a(y, "convForward", "y"), workspaceAddress());
        } catch (CudaException e) {
            fusedConvolutions = false;
            log.warn("cuDNN refused convolution + bias + ReLU in one call ({}); using separate calls from now on", e.getMessage());
            convForward(y, x, w, g);
            backend.biasActivation(y, b, f);
        }
    }

    @Override
    public void convBackwardData(Tensor dx, Tensor dy, Tensor w, ConvGeometry g) {
        current();
        Check.conv("convBackwardData", dy, dx, w, g);
        int n = dx.shape().n();
        Dnn.Choice c = algorithm(g, n, Dnn.Direction.BACKWARD_DATA);
        backend.cudnn.convolutionBackwardData(g, n, c, a(w, "convBackwardData", "w"), a(dy, "convBackwardData", "dy"),
                a(dx, "convBackwardData", "dx"), workspaceAddress());
    }

    @Override
    public void convBackwardFilter(Tensor dw, Tensor x, Tensor dy, ConvGeometry g) {
        current();
        Check.conv("convBackwardFilter", dy, x, dw, g);
        int n = x.shape().n();
        Dnn.Choice c = algorithm(g, n, Dnn.Direction.BACKWARD_FILTER);
        backend.cudnn.convolutionBackwardFilter(g, n, c, a(x, "convBackwardFilter", "x"), a(dy, "convBackwardFilter", "dy"),
                a(dw, "convBackwardFilter", "dw"), workspaceAddress());
    }

    @Override
    public void addBias(Tensor y, Tensor b) {
        current();
        biasShape("addBias", y, b);
        backend.cudnn.addBias(y.shape(), a(y, "addBias", "y"), b.size(), a(b, "addBias", "b"));
    }

    @Override
    public void biasBackward(Tensor db, Tensor dy) {
        current();
        biasShape("biasBackward", dy, db);
        backend.cudnn.biasBackward(dy.shape(), a(dy, "biasBackward", "dy"), db.size(), a(db, "biasBackward", "db"));
    }

    static void biasShape(String op, Tensor y, Tensor b) {
        if ((y.shape().rank() != 2 && y.shape().rank() != 4) || y.shape().dim(1) != b.size()) {
            throw new IllegalArgumentException(op + ": " + y.shape() + " does not have " + b.size() + " channels for a bias of shape " + b.shape());
        }
    }
}
