package org.cnn4j.layer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.cnn4j.tensor.Shape;
import org.cnn4j.tensor.Tensor;

/**
 * Two or more inputs joined along the channels, in input order, as PyTorch's
 * {@code torch.cat(xs, dim=1)}: images (c_i, h, w) of one size give (Σc_i, h, w); features (c_i)
 * give (Σc_i). Each input's gradient is its channels of dy.
 */
public final class Concat extends Merge {
    @Override
    public String describe() {
        return "Concat";
    }

    @Override
    protected Shape buildMerge(List<Shape> inputs, Random rng) {
        Shape first = inputs.get(0);
        int channels = 0;
        for (int i = 0; i < inputs.size(); i++) {
            Shape s = inputs.get(i);
            boolean sameSize = s.rank() == first.rank() && Arrays.equals(Arrays.copyOfRange(s.dims(), 1, s.rank()), Arrays.copyOfRange(first.dims(), 1, first.rank()));
            if (!sameSize) {
                throw new IllegalArgumentException("joins inputs that differ only in channels, got " + batchShape(first) + " (input 0) and "
                        + batchShape(s) + " (input " + i + ")");
            }
            channels += s.dim(0);
        }
        int[] out = first.dims();
        out[0] = channels;
        return Shape.of(out);
    }

    @Override
    protected Tensor forwardMerge(List<Tensor> xs, Pass pass) {
        Tensor y = buffer("y", outputShape().batch(xs.get(0).shape().rows()));
        int offset = 0;
        for (Tensor x : xs) {
            backend().copyChannels(y, x, offset, false);
            offset += x.shape().dim(1);
        }
        return y;
    }

    @Override
    protected List<Tensor> backwardMerge(Tensor dy) {
        List<Tensor> dxs = new ArrayList<>();
        int offset = 0;
        for (int i = 0; i < inputShapes().size(); i++) {
            Shape s = inputShapes().get(i);
            Tensor dx = buffer("dx" + i, s.batch(dy.shape().rows()));
            backend().copyChannels(dy, dx, offset, true);
            dxs.add(dx);
            offset += s.dim(0);
        }
        return dxs;
    }

    @Override
    protected long multiplyAccumulates() {
        return 0;
    }
}
