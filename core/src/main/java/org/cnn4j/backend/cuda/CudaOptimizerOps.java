package org.cnn4j.backend.cuda;

import java.util.List;

import org.cnn4j.backend.Check;
import org.cnn4j.backend.OptimizerOps;
import org.cnn4j.backend.StepRates;
import org.cnn4j.tensor.Tensor;

/** SGD and Adam on the GPU: the PTX kernels of optimizers.ptx, all of a model's parameters in one launch where the chunk tables allow. */
final class CudaOptimizerOps extends CudaOps implements OptimizerOps {
    CudaOptimizerOps(CudaBackend backend) {
        super(backend);
    }

    @Override
    public void sgdStep(Tensor w, Tensor velocity, Tensor dw, Tensor rates, int row, double momentum, boolean nesterov) {
        current();
        Check.sameSize("sgdStep", "dw", dw, w);
        if (momentum != 0) Check.sameSize("sgdStep", "velocity", velocity, w);
        long at = 4L * StepRates.offset("sgdStep", rates, row);
        int flags = (momentum != 0 ? 1 : 0) | (nesterov ? 2 : 0);
        launch("sgd_step", w.size(), t(w, "sgdStep", "w").pointer(), momentum != 0 ? t(velocity, "sgdStep", "velocity").pointer() : null,
                t(dw, "sgdStep", "dw").pointer(), w.size(), a(rates, "sgdStep", "rates") + at, (float) momentum, flags);
    }

    /** Every parameter in one launch over a chunk table: the same arithmetic as {@link #sgdStep}, bitwise. */
    @Override
    public void sgdSteps(List<Tensor> w, List<Tensor> velocity, List<Tensor> dw, Tensor rates, double momentum, boolean nesterov) {
        if (!CudaBackend.MULTI_TENSOR) {
            OptimizerOps.super.sgdSteps(w, velocity, dw, rates, momentum, nesterov);
            return;
        }
        current();
        long[][] fields = new long[w.size()][];
        long[] sizes = new long[w.size()];
        for (int i = 0; i < w.size(); i++) {
            Check.sameSize("sgdSteps", "dw", dw.get(i), w.get(i));
            if (momentum != 0) Check.sameSize("sgdSteps", "velocity", velocity.get(i), w.get(i));
            long rowAddress = a(rates, "sgdSteps", "rates") + 4L * StepRates.offset("sgdSteps", rates, i);
            fields[i] = new long[] {a(w.get(i), "sgdSteps", "w"), momentum != 0 ? a(velocity.get(i), "sgdSteps", "velocity") : 0,
                    a(dw.get(i), "sgdSteps", "dw"), rowAddress};
            sizes[i] = w.get(i).size();
        }
        CudaBackend.ChunkTable t = backend.table(ChunkTables.chunks(fields, sizes), 6);
        int flags = (momentum != 0 ? 1 : 0) | (nesterov ? 2 : 0);
        if (t.chunks() > 0) backend.driver.launch("sgd_steps", t.chunks(), CudaBackend.THREADS, 0, t.pointer(), (float) momentum, flags);
    }

    @Override
    public void adamStep(Tensor w, Tensor m, Tensor v, Tensor dw, Tensor rates, int row, double beta1, double beta2, double eps,
                         boolean decoupled) {
        current();
        Check.sameSize("adamStep", "dw", dw, w);
        Check.sameSize("adamStep", "m", m, w);
        Check.sameSize("adamStep", "v", v, w);
        long at = 4L * StepRates.offset("adamStep", rates, row);
        launch("adam_step", w.size(), t(w, "adamStep", "w").pointer(), t(m, "adamStep", "m").pointer(), t(v, "adamStep", "v").pointer(),
                t(dw, "adamStep", "dw").pointer(), w.size(), a(rates, "adamStep", "rates") + at, (float) beta1, (float) beta2, (float) eps,
                decoupled ? 1 : 0);
    }
}
