package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import java.util.Random;

/**
 * Invertible 1x1 convolution with an unconstrained weight W, for comparison with the LU form:
 * log|det W| comes from an LU decomposition in double (slogdet). In training its gradient W⁻ᵀ
 * enters through the surrogate {@code Σ W⊙stop(W⁻ᵀ)}, whose value is shifted to the exact log-det.
 */
public final class InvConv1x1Plain implements InvertibleMix {

    private final FlowParameters params;
    private final int channels;
    private final NDArray weight;
    private final VersionedCache<InvConv1x1.Assembled> cache;

    InvConv1x1Plain(FlowParameters params, String prefix, int channels, Random random) {
        this.params = params;
        this.channels = channels;
        double[][] q = Matrices.randomOrthogonal(channels, random);
        this.weight = params.add(prefix + "weight", new Shape(channels, channels, 1, 1), Matrices.flatten(q), true);
        this.cache = new VersionedCache<>(params);
    }

    @Override
    public NDArray forward(NDArray x, Pass pass, LogDet logDet) {
        long hw = x.getShape().get(2) * x.getShape().get(3);
        if (pass.training()) {
            NDArray w = weight.reshape(channels, channels);
            double[][] wd = Matrices.square(Tensors.toDoubles(w), channels);
            double logAbsDet = Matrices.logAbsDet(wd);
            NDArray invT = Tensors.create(x.getManager(), Matrices.flatten(Matrices.transpose(Matrices.inverse(wd))),
                    new Shape(channels, channels), x.getDataType());
            // Σ W⊙W⁻ᵀ = tr(W·W⁻¹) = C, so the value below is exactly log|det W|.
            NDArray surrogate = w.mul(invT).sum().add(logAbsDet - channels);
            logDet.add(Tensors.times(surrogate, hw));
            return InvConv1x1.conv(x, weight);
        }
        InvConv1x1.Assembled a = cache.get(this::assemble);
        logDet.add(hw * a.logAbsDet());
        return InvConv1x1.conv(x, a.weight());
    }

    @Override
    public NDArray reverse(NDArray y) {
        return InvConv1x1.conv(y, cache.get(this::assemble).inverse());
    }

    double[][] matrix() {
        return Matrices.square(Tensors.toDoubles(weight), channels);
    }

    @Override
    public double[][][] matrices() {
        double[][] w = matrix();
        return new double[][][] {w, Matrices.inverse(w)};
    }

    @Override
    public double logAbsDet() {
        return Matrices.logAbsDet(matrix());
    }

    private InvConv1x1.Assembled assemble() {
        return InvConv1x1.Assembled.of(params, this);
    }
}
