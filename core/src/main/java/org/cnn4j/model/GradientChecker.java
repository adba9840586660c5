package org.cnn4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.reference.ReferenceBackend;
import org.cnn4j.layer.Parameter;
import org.cnn4j.layer.Pass;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Tensor;

/**
 * Checks a model's back-propagated gradients against central differences of its objective
 * (loss plus penalties) on one batch, for every parameter tensor and optionally the input.
 *
 * <p>For each checked element the central difference D(h) = (E(θ+h) − E(θ−h)) / 2h is taken at
 * h = ε and h = ε/2. Where they disagree by more than the kink tolerance, a non-differentiable
 * point (a ReLU at 0, a max-pool tie) lies within ε: the pair is taken again with ε ten times
 * smaller, as often as the options' refinements allow, and if the kink is still there the
 * element is skipped and counted, as in Caffe's checker; otherwise D(h/2) is compared with the
 * analytic gradient a by
 * <pre>  error = |a − D| / max(|a|, |D|, floor)</pre>
 * — relative where gradients are large, absolute below {@code floor}. The report keeps the worst
 * error per tensor. Run on the float64 {@link ReferenceBackend} (see {@link #checkInDouble}) the
 * differences are accurate to about 1e-9, so a correct model shows errors far below 1e-3.
 */
public final class GradientChecker {

    /**
     * @param epsilon the step h; floor the error's denominator floor; kinkTolerance how far D(ε) and D(ε/2) may differ;
     *                refinements how many times an element at a kink is tried again with a step ten times smaller
     *                before it is skipped
     */
    public record Options(double epsilon, double floor, double kinkTolerance, int maxElementsPerTensor, long seed,
                          boolean checkInput, int refinements) {

        /**
         * Defaults for a backend's precision: in float64 ε = 1e-5, floor 1e-4 and two refinements
         * (down to ε = 1e-7, where rounding of the objective still costs less than 1e-8 of a
         * difference: in a deep network of ReLUs a step of 1e-5 on an early weight moves one of
         * its many units across 0 more often than not); in float32 ε = 1e-3, floor 1 (Caffe's
         * scaling by max(|a|, |n|, 1)), kink tolerance 3e-3 and no refinement, where float rounding
         * limits the check to about 1e-2.
         */
        public static Options forPrecision(DType precision) {
            return precision == DType.FLOAT64
                    ? new Options(1e-5, 1e-4, 1e-4, 200, 1, true, 2)
                    : new Options(1e-3, 1, 3e-3, 200, 1, true, 0);
        }

        public Options withMaxElementsPerTensor(int max) {
            return new Options(epsilon, floor, kinkTolerance, max, seed, checkInput, refinements);
        }

        public Options withCheckInput(boolean on) {
            return new Options(epsilon, floor, kinkTolerance, maxElementsPerTensor, seed, on, refinements);
        }

        public Options withRefinements(int times) {
            return new Options(epsilon, floor, kinkTolerance, maxElementsPerTensor, seed, checkInput, times);
        }
    }

    /** The outcome for one tensor: how many elements were compared and skipped, and the worst one. */
    public record TensorReport(String name, int checked, int skipped, double worstError, int worstIndex,
                               double analytic, double numeric) {
        /** The header of the table whose rows {@link #row()} writes. */
        public static final String HEADER = String.format(Locale.ROOT, "%-28s %8s %8s %12s  %s", "tensor", "checked", "skipped", "worst error",
                "at (analytic vs numeric)");

        /** This tensor's line of the report's table. */
        public String row() {
            return String.format(Locale.ROOT, "%-28s %8d %8d %12.3e  [%d] %.9g vs %.9g", name, checked, skipped, worstError, worstIndex, analytic, numeric);
        }
    }

    public record Report(List<TensorReport> tensors, Options options) {

        public double worstError() {
            return tensors.stream().mapToDouble(TensorReport::worstError).max().orElse(0);
        }

        public int checked() {
            return tensors.stream().mapToInt(TensorReport::checked).sum();
        }

        public int skipped() {
            return tensors.stream().mapToInt(TensorReport::skipped).sum();
        }

        /** True when every checked element is within tolerance and at most 5% were skipped as kinks. */
        public boolean passed(double tolerance) {
            return worstError() <= tolerance && skipped() <= 0.05 * (checked() + skipped());
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(TensorReport.HEADER).append('\n');
            for (TensorReport t : tensors) sb.append(t.row()).append('\n');
            return sb.toString();
        }
    }

    private GradientChecker() {
    }

    /** Checks on the model's own backend with the defaults for its precision. */
    public static Report check(Model model, Tensor x, Tensor target) {
        return check(model, x, target, Options.forPrecision(model.backend().precision()));
    }

    /**
     * Copies the model to a float64 {@link ReferenceBackend} and checks it there: the exact
     * check of the mathematics of every layer, whatever backend the model was built for.
     */
    public static Report checkInDouble(Model model, Tensor x, Tensor target) {
        try (ReferenceBackend reference = new ReferenceBackend(); Model copy = model.copyTo(reference)) {
            Tensor x64 = reference.upload(x.shape(), x.toDoubleArray());
            Tensor t64 = target.dtype() == DType.INT32
                    ? reference.uploadInts(target.shape(), target.toIntArray())
                    : reference.upload(target.shape(), target.toDoubleArray());
            return check(copy, x64, t64, Options.forPrecision(DType.FLOAT64));
        }
    }

    public static Report check(Model model, Tensor x, Tensor target, Options options) {
        return check(model, x, target, options, t -> { });
    }

    /** {@link #check(Model, Tensor, Tensor, Options)}, telling {@code progress} of each tensor as soon as it is checked. */
    public static Report check(Model model, Tensor x, Tensor target, Options options, java.util.function.Consumer<TensorReport> progress) {
        Backend backend = model.backend();
        Pass pass = Pass.training(model.step());
        boolean hadInputGradient = model.computesInputGradient();
        model.computeInputGradient(options.checkInput());
        // Training passes move running statistics: put them back as they were when the check is done.
        List<double[]> state = model.state().stream().map(t -> t.value().toDoubleArray()).toList();
        try {
            model.zeroGradients();
            double base = model.loss(model.forward(x, pass), target, true);
            if (!Double.isFinite(base)) throw new IllegalStateException("the objective is not finite: " + base);
            Tensor dx = model.backward();

            List<TensorReport> reports = new ArrayList<>();
            Random rng = new Random(options.seed());
            for (Parameter p : model.parameters()) {
                reports.add(checkTensor(p.name(), p.value(), p.gradient().toDoubleArray(), model, x, target, pass, options, rng));
                progress.accept(reports.getLast());
            }
            if (options.checkInput()) {
                reports.add(checkTensor("input", x, dx.toDoubleArray(), model, x, target, pass, options, rng));
                progress.accept(reports.getLast());
            }
            return new Report(List.copyOf(reports), options);
        } finally {
            model.computeInputGradient(hadInputGradient);
            for (int i = 0; i < state.size(); i++) backend.write(model.state().get(i).value(), state.get(i));
        }
    }

    private static TensorReport checkTensor(String name, Tensor values, double[] analytic, Model model, Tensor x,
                                            Tensor target, Pass pass, Options o, Random rng) {
        double[] original = values.toDoubleArray();
        int[] indices = sample(original.length, o.maxElementsPerTensor(), rng);
        int checked = 0, skipped = 0, worstIndex = -1;
        double worst = 0, worstA = 0, worstN = 0;
        for (int i : indices) {
            double fine = Double.NaN;
            for (int attempt = 0, tenths = 1; attempt <= o.refinements(); attempt++, tenths *= 10) {
                double h = o.epsilon() / tenths;
                double coarse = difference(values, original, i, h, model, x, target, pass);
                double half = difference(values, original, i, h / 2, model, x, target, pass);
                double scale = Math.max(Math.max(Math.abs(coarse), Math.abs(half)), o.floor());
                if (Math.abs(coarse - half) <= o.kinkTolerance() * scale) {
                    fine = half;
                    break;
                }
            }
            if (Double.isNaN(fine)) {
                skipped++;
                continue;
            }
            checked++;
            double a = analytic[i];
            double error = Math.abs(a - fine) / Math.max(Math.max(Math.abs(a), Math.abs(fine)), o.floor());
            if (error > worst || worstIndex < 0) {
                worst = error;
                worstIndex = i;
                worstA = a;
                worstN = fine;
            }
        }
        set(values, original);
        return new TensorReport(name, checked, skipped, worst, worstIndex, worstA, worstN);
    }

    /** (E(θ_i + h) − E(θ_i − h)) / (actual θ_i⁺ − θ_i⁻), leaving the tensor at its original values. */
    private static double difference(Tensor values, double[] original, int i, double h, Model model, Tensor x,
                                     Tensor target, Pass pass) {
        double[] v = original.clone();
        v[i] = original[i] + h;
        set(values, v);
        double plusAt = values.toDoubleArray()[i];
        double plus = model.loss(model.forward(x, pass), target, false);
        v[i] = original[i] - h;
        set(values, v);
        double minusAt = values.toDoubleArray()[i];
        double minus = model.loss(model.forward(x, pass), target, false);
        set(values, original);
        return (plus - minus) / (plusAt - minusAt);
    }

    private static void set(Tensor t, double[] values) {
        Backend backend = t.backend();
        try (Tensor tmp = backend.upload(t.shape(), values)) {
            backend.copy(t, tmp);
        }
    }

    /** All indices, or a seeded random subset of {@code max} of them. */
    private static int[] sample(int size, int max, Random rng) {
        int[] all = new int[size];
        for (int i = 0; i < size; i++) all[i] = i;
        if (size <= max) return all;
        for (int i = 0; i < max; i++) {
            int j = i + rng.nextInt(size - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return Arrays.copyOf(all, max);
    }
}
