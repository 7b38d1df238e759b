package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import java.util.Random;

/**
 * A fixed channel permutation, the paper's baselines for the 1×1 convolution: channels reversed (RealNVP) or
 * shuffled once from the model's seed. Its order is stored with the weights ({@code order}, not trained), so a
 * loaded model permutes as it was trained. It runs as a 1×1 convolution with a 0/1 matrix, which moves each value
 * exactly; log|det| is 0.
 */
public final class FixedPermutation implements InvertibleMix {

    private final FlowParameters params;
    private final int channels;
    private final NDArray order;
    private final VersionedCache<InvConv1x1.Assembled> cache;

    FixedPermutation(FlowParameters params, String prefix, int channels, Permutation kind, Random random) {
        this.params = params;
        this.channels = channels;
        int[] o = new int[channels];
        for (int i = 0; i < channels; i++) {
            o[i] = kind == Permutation.REVERSE ? channels - 1 - i : i;
        }
        if (kind == Permutation.SHUFFLE) {
            for (int i = channels - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = o[i];
                o[i] = o[j];
                o[j] = t;
            }
        }
        double[] values = new double[channels];
        for (int i = 0; i < channels; i++) {
            values[i] = o[i];
        }
        this.order = params.add(prefix + "order", new Shape(channels), values, false);
        this.cache = new VersionedCache<>(params);
    }

    /** Output channel i is input channel order[i], checked to be a permutation (a loaded file may say otherwise). */
    int[] order() {
        double[] values = Tensors.toDoubles(order);
        int[] o = new int[channels];
        boolean[] seen = new boolean[channels];
        for (int i = 0; i < channels; i++) {
            int k = (int) values[i];
            if (k != values[i] || k < 0 || k >= channels || seen[k]) {
                throw new IllegalArgumentException("the permutation's order is not a permutation of 0.." + (channels - 1));
            }
            seen[k] = true;
            o[i] = k;
        }
        return o;
    }

    @Override
    public NDArray forward(NDArray x, Pass pass, LogDet logDet) {
        return InvConv1x1.conv(x, cache.get(this::assemble).weight());
    }

    @Override
    public NDArray reverse(NDArray y) {
        return InvConv1x1.conv(y, cache.get(this::assemble).inverse());
    }

    @Override
    public double[][][] matrices() {
        int[] o = order();
        double[][] w = new double[channels][channels];
        for (int i = 0; i < channels; i++) {
            w[i][o[i]] = 1;
        }
        return new double[][][] {w, Matrices.transpose(w)};
    }

    @Override
    public double logAbsDet() {
        return 0;
    }

    private InvConv1x1.Assembled assemble() {
        return InvConv1x1.Assembled.of(params, this);
    }
}
