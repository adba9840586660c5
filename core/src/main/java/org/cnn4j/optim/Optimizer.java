package org.cnn4j.optim;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.StepRates;
import org.cnn4j.io.Settings;
import org.cnn4j.layer.Parameter;
import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Updates parameters from their accumulated gradients. Each parameter's effective learning rate
 * is the optimizer's rate times the parameter's own multiplier, and likewise for weight decay.
 * State (momentum, moments) lives on the parameter's backend, one set per parameter.
 */
public abstract class Optimizer {
    private double learningRate;
    private double weightDecay;
    private boolean decayBiasesAndNorms = true;
    private int steps;
    private final Map<Parameter, Tensor[]> state = new IdentityHashMap<>();
    private Tensor rates;

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

    /**
     * Whether weight decay also applies to biases and to normalisation layers' γ and β (true, as
     * PyTorch's optimizers do by default); false is the common recipe that decays only the weights
     * of convolutions and dense layers.
     */
    public Optimizer decayBiasesAndNorms(boolean on) {
        this.decayBiasesAndNorms = on;
        return this;
    }

    public boolean decaysBiasesAndNorms() {
        return decayBiasesAndNorms;
    }

    /** Steps taken so far. */
    public int steps() {
        return steps;
    }

    /** Applies one update to every parameter: {@link #prepare}, then {@link #apply}. */
    public final void step(List<Parameter> parameters) {
        prepare(parameters);
        apply(parameters);
    }

    /**
     * The host's half of a step: counts it, makes any missing state, and writes every parameter's
     * {@link StepRates} row for it (the rate times the parameter's multipliers) into one tensor on
     * the parameters' backend, with one write.
     */
    public final void prepare(List<Parameter> parameters) {
        if (parameters.isEmpty()) return;
        steps++;
        Backend backend = parameters.get(0).value().backend();
        if (rates == null || rates.backend() != backend || rates.shape().rows() != parameters.size()) {
            if (rates != null) rates.close();
            rates = backend.allocate(Shape.of(parameters.size(), StepRates.COLUMNS));
        }
        double[] rows = new double[parameters.size() * StepRates.COLUMNS];
        for (int i = 0; i < parameters.size(); i++) {
            Parameter p = parameters.get(i);
            state.computeIfAbsent(p, k -> newState(k.value()));
            boolean exempt = !decayBiasesAndNorms && (p.normalisation() || p.name().endsWith(".bias"));
            double[] row = rates(learningRate * p.learningRateMultiplier(), exempt ? 0 : weightDecay * p.weightDecayMultiplier(), steps);
            System.arraycopy(row, 0, rows, i * StepRates.COLUMNS, StepRates.COLUMNS);
        }
        backend.write(rates, rows);
    }

    /**
     * The device's half of the step that {@link #prepare} set up for the same parameters: one update
     * per parameter, reading its rates from the backend. It issues no host work, so it can be
     * recorded in a graph ({@link Backend#capture}) and replayed after each {@code prepare}.
     */
    public final void apply(List<Parameter> parameters) {
        if (parameters.isEmpty()) return;
        if (rates == null || rates.shape().rows() != parameters.size()) {
            throw new IllegalStateException(describe() + ": apply() without prepare() for these " + parameters.size() + " parameters");
        }
        update(parameters, parameters.stream().map(state::get).toList(), rates);
    }

    /** Updates every parameter, parameter i with its state and row i of the rates: one at a time unless the kind does better. */
    protected void update(List<Parameter> parameters, List<Tensor[]> states, Tensor rates) {
        for (int i = 0; i < parameters.size(); i++) update(parameters.get(i), states.get(i), rates, i);
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
        c.put("decayBiasesAndNorms", decayBiasesAndNorms);
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
        // Checkpoints written before the setting existed decayed everything.
        return o.weightDecay(s.number("weightDecay")).decayBiasesAndNorms(!s.values().containsKey("decayBiasesAndNorms") || s.flag("decayBiasesAndNorms"));
    }

    /** Fresh state tensors for a parameter value (zeros on its backend). */
    protected abstract Tensor[] newState(Tensor value);

    /** The {@link StepRates} row of a step for a parameter with these effective rates. */
    protected abstract double[] rates(double lr, double weightDecay, int step);

    /** Updates one parameter, its rates in row {@code row} of {@code rates}. */
    protected abstract void update(Parameter p, Tensor[] state, Tensor rates, int row);

    public abstract String describe();

    @Override
    public String toString() {
        return describe();
    }
}
