package org.cnn4j.layer;

import org.cnn4j.tensor.Shape;

/** {@link BatchNorm} of images (n, c, h, w) per channel, as PyTorch's {@code BatchNorm2d}. */
public final class BatchNorm2d extends BatchNorm {
    public BatchNorm2d(int channels) {
        super(channels);
    }

    @Override
    protected boolean accepts(Shape input) {
        return input.rank() == 3;
    }

    @Override
    protected String expected() {
        return "(n, " + features() + ", h, w)";
    }

    @Override
    public String describe() {
        return "BatchNorm2d " + features();
    }
}
