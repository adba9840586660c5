package org.cnn4j.optim;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.cnn4j.io.Settings;
import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.Tensor;

/**
 * Updates parameters from their accumulated gradients. Each parameter's effective learning rate
 * is the optimizer's rate times the parameter's own multiplier, and likewise for weight decay
 * (SPEC.md §8). State (momentum, moments) lives on the parameter's backend, one set per parameter.
 */
public abstract class Optimizer {
    private double learningRate;
    private double weightDecay;
    private int steps;
    private final Map<Parameter, Tensor[]> state = new IdentityHashMap<>();

    protected Optimizer(double learningRate) {
        learningRate(learningRate);
    }

    public double learningRate() {
        return learningRate;
    }

    /** Changes the base learning rate (for schedules). */
    public Optimizer learningRate(double learningRate) {
        if (!(learningRate >= 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate must be a finite number >= 0, got " + learningRate);
        }
        this.learningRate = learningRate;
        return this;
    }

    public double weightDecay() {
        return weightDecay;
    }

    /** L2 weight decay λ: adds λ·w to each gradient (for Adam with decoupled decay, shrinks w instead). */
    public Optimizer weightDecay(double weightDecay) {
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight decay must be a finite number >= 0, got " + weightDecay);
        }
        this.weightDecay = weightDecay;
        return this;
    }

    /** Steps taken so far. */
    public int steps() {
        return steps;
    }

    /** Applies one update to every parameter. */
    public final void step(List<Parameter> parameters) {
        steps++;
        for (Parameter p : parameters) {
            Tensor[] s = state.computeIfAbsent(p, k -> newState(k.value()));
            update(p, s, learningRate * p.learningRateMultiplier(), weightDecay * p.weightDecayMultiplier(), steps);
        }
    }

    /** The optimizer's state tensors for a parameter (for checkpoints), or null before its first step. */
    public final Tensor[] state(Parameter p) {
        return state.get(p);
    }

    /**
     * Restores a checkpoint: the step count and, for each parameter that had state, its state
     * tensors' values in the order {@link #state} gives them.
     */
    public final void restore(int steps, Map<Parameter, float[][]> values) {
        if (steps < 0) throw new IllegalArgumentException("optimizer steps must be >= 0, got " + steps);
        for (Map.Entry<Parameter, float[][]> e : values.entrySet()) {
            Parameter p = e.getKey();
            Tensor[] fresh = newState(p.value());
            if (fresh.length != e.getValue().length) {
                throw new IllegalArgumentException(describe() + " keeps " + fresh.length + " state tensors for " + p.name()
                        + ", the checkpoint has " + e.getValue().length);
            }
            for (int i = 0; i < fresh.length; i++) {
                if (e.getValue()[i].length != p.value().size()) {
                    throw new IllegalArgumentException("optimizer state " + i + " of " + p.name() + " has " + e.getValue()[i].length
                            + " values, the parameter " + p.value().size());
                }
                p.value().backend().write(fresh[i], e.getValue()[i]);
            }
            Tensor[] old = state.put(p, fresh);
            if (old != null) for (Tensor t : old) t.close();
        }
        this.steps = steps;
    }

    /** Kind ("type"), learning rate, weight decay and the kind's own settings: what a checkpoint stores to rebuild it. */
    public final Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", getClass().getSimpleName().toLowerCase(Locale.ROOT));
        c.put("learningRate", learningRate);
        c.put("weightDecay", weightDecay);
        settings(c);
        return c;
    }

    protected abstract void settings(Map<String, Object> c);

    /** The optimizer a {@link #config()} describes, without state. */
    public static Optimizer fromConfig(Settings s) {
        String type = s.string("type");
        Optimizer o = switch (type) {
            case "sgd" -> new Sgd(s.number("learningRate")).momentum(s.number("momentum")).nesterov(s.flag("nesterov"));
            case "adam" -> new Adam(s.number("learningRate")).betas(s.number("beta1"), s.number("beta2")).eps(s.number("eps"))
                    .decoupled(s.flag("decoupled"));
            default -> throw new IllegalArgumentException(s.owner() + ": unknown optimizer '" + type + "' (known: sgd, adam)");
        };
        return o.weightDecay(s.number("weightDecay"));
    }

    /** Fresh state tensors for a parameter value (zeros on its backend). */
    protected abstract Tensor[] newState(Tensor value);

    protected abstract void update(Parameter p, Tensor[] state, double lr, double weightDecay, int step);

    public abstract String describe();

    @Override
    public String toString() {
        return describe();
    }
}
