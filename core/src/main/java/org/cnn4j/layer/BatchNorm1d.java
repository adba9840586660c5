package org.cnn4j.layer;

import org.cnn4j.tensor.Shape;

/** {@link BatchNorm} of features (n, c) or sequences (n, c, l) per channel, as PyTorch's {@code BatchNorm1d}. */
public final class BatchNorm1d extends BatchNorm {
    public BatchNorm1d(int features) {
        super(features);
    }

    @Override
    protected boolean accepts(Shape input) {
        return input.rank() == 1 || input.rank() == 2;
    }

    @Override
    protected String expected() {
        return "(n, " + features() + ") or (n, " + features() + ", l)";
    }

    @Override
    public String describe() {
        return "BatchNorm1d " + features();
    }
}
