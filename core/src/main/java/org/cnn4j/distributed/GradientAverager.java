package org.cnn4j.distributed;

import java.util.List;

import org.cnn4j.layer.Parameter;

/**
 * Data parallelism's one collective: after each replica's backward pass, every parameter gradient
 * becomes its mean over the job's processes, so that each replica's optimizer takes the same step
 * (each process's loss being the mean over its own batch, the mean of the gradients is the
 * gradient of the mean loss over the job's whole batch). The gradients travel in one buffer, one
 * all-reduce a step, through the host.
 */
public final class GradientAverager {
    private final Communicator communicator;

    public GradientAverager(Communicator communicator) {
        this.communicator = communicator;
    }

    public Communicator communicator() {
        return communicator;
    }

    /** Replaces each parameter's gradient by its mean over the processes (nothing to do in a job of one). */
    public void average(List<Parameter> parameters) {
        int size = communicator.size();
        if (size == 1) return;
        long total = 0;
        for (Parameter p : parameters) total += p.gradient().size();
        if (total > Integer.MAX_VALUE - 8) throw new IllegalStateException("the model's " + total + " gradients exceed one buffer");
        float[] buffer = new float[(int) total];
        int at = 0;
        for (Parameter p : parameters) {
            float[] g = p.gradient().toFloatArray();
            System.arraycopy(g, 0, buffer, at, g.length);
            at += g.length;
        }
        communicator.allReduceSum(buffer);
        float scale = 1f / size;
        at = 0;
        for (Parameter p : parameters) {
            float[] g = new float[p.gradient().size()];
            for (int i = 0; i < g.length; i++) g[i] = buffer[at + i] * scale;
            p.gradient().backend().write(p.gradient(), g);
            at += g.length;
        }
    }
}
