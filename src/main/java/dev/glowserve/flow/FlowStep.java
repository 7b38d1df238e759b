package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

import java.util.Random;

/**
 * One step of flow: ActNorm → invertible 1x1 conv → coupling. For inference ActNorm is folded into
 * the 1x1 conv ({@code W·(s⊙(x + loc)) = (W·diag s)·x + W·(s⊙loc)}, in double, once per parameter
 * version): a conv and an add instead of three ops, forward and reverse. The bias is added apart:
 * oneDNN's conv with a bias gave an image different last bits alone than inside a batch.
 */
public final class FlowStep implements FlowLayer {

    /** The folded kernels and biases, (C, C, 1, 1) and (1, C, 1, 1), and the step's constant log-det per position. */
    private record Folded(NDArray kernel, NDArray bias, NDArray inverseKernel, NDArray inverseBias, double logAbsDet)
            implements AutoCloseable {
        @Override
        public void close() {
            new NDList(kernel, bias, inverseKernel, inverseBias).close();
        }
    }

    private final FlowParameters params;
    private final int channels;
    private final ActNorm actNorm;
    private final InvertibleMix invConv;
    private final Coupling coupling;
    private final VersionedCache<Folded> folded;

    FlowStep(FlowParameters params, String prefix, int channels, GlowConfig config, Random random) {
        this.params = params;
        this.channels = channels;
        this.actNorm = new ActNorm(params, prefix + "actnorm.", channels);
        // the mix draws from its own stream, one number from the model's: whatever it is, every other layer of a seed
        // starts the same (the permutation ablation compares variants from the same initialisation)
        Random mixRandom = new Random(random.nextLong());
        this.invConv = switch (config.permutation()) {
            case CONV_LU -> new InvConv1x1(params, prefix + "invconv.", channels, mixRandom);
            case CONV -> new InvConv1x1Plain(params, prefix + "invconv.", channels, mixRandom);
            case REVERSE, SHUFFLE -> new FixedPermutation(params, prefix + "invconv.", channels, config.permutation(), mixRandom);
        };
        this.coupling = new Coupling(params, prefix + "coupling.", channels, config.hiddenChannels(), config.affine(), random);
        this.folded = new VersionedCache<>(params);
    }

    ActNorm actNorm() {
        return actNorm;
    }

    @Override
    public NDArray forward(NDArray x, Pass pass, LogDet logDet) {
        return Scopes.one(() -> {
            NDArray h;
            if (pass == Pass.INFERENCE && actNorm.initialized()) {
                Folded f = folded.get(this::fold);
                logDet.add(x.getShape().get(2) * x.getShape().get(3) * f.logAbsDet());
                h = InvConv1x1.conv(x, f.kernel()).add(f.bias());
            } else {
                h = invConv.forward(actNorm.forward(x, pass, logDet), pass, logDet);
            }
            return coupling.forward(h, pass, logDet);
        });
    }

    @Override
    public NDArray reverse(NDArray y) {
        return Scopes.one(() -> {
            NDArray h = coupling.reverse(y);
            if (actNorm.initialized()) {
                Folded f = folded.get(this::fold);
                return InvConv1x1.conv(h, f.inverseKernel()).add(f.inverseBias());
            }
            return actNorm.reverse(invConv.reverse(h));
        });
    }

    /**
     * The weights the inference passes read at (h, w), for the scripted pass's binder: ActNorm folded into the 1×1
     * conv and its inverse, then the coupling's. Initialized models only.
     */
    record Weights(NDArray mix, NDArray mixBias, NDArray unmix, NDArray unmixBias, Coupling.Weights coupling) {}

    Weights inferenceWeights(long h, long w) {
        Folded f = folded.get(this::fold);
        return new Weights(f.kernel(), f.bias(), f.inverseKernel(), f.inverseBias(), coupling.inferenceWeights(h, w));
    }

    /** The forward log-det per position that does not depend on the input (ActNorm and 1x1 conv). */
    double constantLogDet() {
        return folded.get(this::fold).logAbsDet();
    }

    /** Forward: (W·diag s, W·(s⊙loc)); reverse: x = diag(1/s)·W⁻¹·y − loc. */
    private Folded fold() {
        int c = channels;
        double[][][] m = invConv.matrices();
        double[][] w = m[0];
        double[][] inv = m[1];
        double[][] ls = actNorm.locAndScale();
        double[] loc = ls[0];
        double[] s = ls[1];
        double[] kernel = new double[c * c];
        double[] bias = new double[c];
        double[] inverseKernel = new double[c * c];
        double[] inverseBias = new double[c];
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                kernel[i * c + j] = w[i][j] * s[j];
                bias[i] += w[i][j] * s[j] * loc[j];
                inverseKernel[i * c + j] = inv[i][j] / s[i];
            }
            inverseBias[i] = -loc[i];
        }
        Shape k = new Shape(c, c, 1, 1);
        Shape v = new Shape(1, c, 1, 1);
        return new Folded(
                FlowParameters.persistent(Tensors.create(params.manager(), kernel, k, params.dataType())),
                FlowParameters.persistent(Tensors.create(params.manager(), bias, v, params.dataType())),
                FlowParameters.persistent(Tensors.create(params.manager(), inverseKernel, k, params.dataType())),
                FlowParameters.persistent(Tensors.create(params.manager(), inverseBias, v, params.dataType())),
                actNorm.logAbsScaleSum() + invConv.logAbsDet());
    }
}
