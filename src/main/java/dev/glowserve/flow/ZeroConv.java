package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

/**
 * 3×3 convolution over an input padded with ones, scaled by {@code exp(3·scale)}; weight, bias and
 * scale start at zero so a fresh coupling is the identity and a fresh prior is N(0, I). Inference
 * folds the scale into weight and bias once per parameter version.
 */
final class ZeroConv {

    private record Folded(NDArray weight, NDArray bias) implements AutoCloseable {
        @Override
        public void close() {
            weight.close();
            bias.close();
        }
    }

    private static final Shape ONE = new Shape(1, 1);
    private static final Shape NO_PAD = new Shape(0, 0);
    private static final Shape PAD_ONES = new Shape(1, 1, 1, 1);

    private final FlowParameters params;
    private final NDArray weight;
    private final NDArray bias;
    private final NDArray scale;
    private final VersionedCache<Folded> cache;

    ZeroConv(FlowParameters params, String prefix, int in, int out) {
        this.params = params;
        this.weight = params.zeros(prefix + "conv.weight", new Shape(out, in, 3, 3), true);
        this.bias = params.zeros(prefix + "conv.bias", new Shape(out), true);
        this.scale = params.zeros(prefix + "scale", new Shape(1, out, 1, 1), true);
        this.cache = new VersionedCache<>(params);
    }

    NDArray apply(NDArray x, Pass pass) {
        NDArray padded = x.pad(PAD_ONES, 1.0);
        if (pass.training()) {
            NDArray y = conv(padded, weight, bias);
            return y.mul(scale.mul(3).exp());
        }
        Folded f = cache.get(this::fold);
        return conv(padded, f.weight(), f.bias());
    }

    private static NDArray conv(NDArray x, NDArray w, NDArray b) {
        NDList out = Conv2d.conv2d(x, w, b, ONE, NO_PAD, ONE);
        return out.singletonOrThrow();
    }

    private Folded fold() {
        double[] s = Tensors.toDoubles(scale);
        double[] w = Tensors.toDoubles(weight);
        double[] b = Tensors.toDoubles(bias);
        int out = s.length;
        int perOut = w.length / out;
        for (int o = 0; o < out; o++) {
            double e = Math.exp(3 * s[o]);
            b[o] *= e;
            for (int i = 0; i < perOut; i++) {
                w[o * perOut + i] *= e;
            }
        }
        NDArray fw = FlowParameters.persistent(Tensors.create(params.manager(), w, weight.getShape(), params.dataType()));
        NDArray fb = FlowParameters.persistent(Tensors.create(params.manager(), b, bias.getShape(), params.dataType()));
        return new Folded(fw, fb);
    }
}
