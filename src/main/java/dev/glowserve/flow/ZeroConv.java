package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * 3×3 convolution over an input padded with ones, scaled by {@code exp(3·scale)}; weight, bias and
 * scale start at zero so a fresh coupling is the identity and a fresh prior is N(0, I).
 *
 * <p>Computed without materialising the padded input: a zero-padded convolution plus the constant
 * the ones-border adds at each output position ({@code conv(border, w)}, batch 1) plus the bias.
 * The scale is folded into weight and bias. With fewer than 8 outputs oneDNN's 3×3 kernel wastes
 * most of its vector lanes, so there the 9 taps run as one 1×1 conv (or, from rows, one GEMM) to
 * 9·out channels followed by a fixed one-hot grouped 3×3 conv that shifts and sums them (2.2×
 * faster at 256→4, 14×14).
 */
final class ZeroConv {

    /** Weight and bias with the scale folded in; the taps as a (9·out, in) matrix and as a 1×1 kernel. */
    private record Effective(NDArray weight, NDArray taps, NDArray tapsKernel, NDArray borderWeight, NDArray bias)
            implements AutoCloseable {
        @Override
        public void close() {
            new NDList(weight, borderWeight, bias).close();
            if (taps != null) {
                taps.close();
                tapsKernel.close();
            }
        }
    }

    private static final Shape ONE = new Shape(1, 1);
    private static final Shape PAD = new Shape(1, 1);
    private static final Shape NO_PAD = new Shape(0, 0);
    private static final int MIN_DIRECT_OUT = 8;

    private final FlowParameters params;
    private final int in;
    private final int out;
    private final NDArray weight;
    private final NDArray bias;
    private final NDArray scale;
    private final VersionedCache<Effective> cache;
    private final Map<Long, NDArray> borders = new ConcurrentHashMap<>();
    private volatile NDArray foldKernel;

    ZeroConv(FlowParameters params, String prefix, int in, int out) {
        this.params = params;
        this.in = in;
        this.out = out;
        this.weight = params.zeros(prefix + "conv.weight", new Shape(out, in, 3, 3), true);
        this.bias = params.zeros(prefix + "conv.bias", new Shape(out), true);
        this.scale = params.zeros(prefix + "scale", new Shape(1, out, 1, 1), true);
        this.cache = new VersionedCache<>(params);
    }

    /** x (B, in, H, W) → (B, out, H, W). */
    NDArray apply(NDArray x, Pass pass) {
        Effective e = effective(pass);
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        NDArray y;
        if (e.taps() != null && h * w > 1) {
            NDArray t = conv(x, e.tapsKernel(), NO_PAD, 1);
            y = conv(t, foldKernel(), PAD, out);
        } else {
            y = conv(x, e.weight(), PAD, 1);
        }
        return withBorderAndBias(y, e, h, w);
    }

    /** The same, from input rows (B·H·W, in) in (b, y, x) order. */
    NDArray applyRows(NDArray rows, long n, long h, long w, Pass pass) {
        Effective e = effective(pass);
        NDArray y;
        if (e.taps() != null && h * w > 1) {
            NDArray t = Linear.linear(rows, e.taps()).singletonOrThrow().reshape(n, h, w, out * 9L).transpose(0, 3, 1, 2);
            y = conv(t, foldKernel(), PAD, out);
        } else {
            y = conv(rows.reshape(n, h, w, in).transpose(0, 3, 1, 2), e.weight(), PAD, 1);
        }
        return withBorderAndBias(y, e, h, w);
    }

    /** Built per pass in training (so gradients flow), cached per weight version otherwise. */
    private Effective effective(Pass pass) {
        return pass.training() ? effective(true) : cache.get(() -> effective(false));
    }

    /** Adds what the ones-border contributes at each output position, and the bias. */
    private NDArray withBorderAndBias(NDArray y, Effective e, long h, long w) {
        NDArray border = conv(border(h, w), e.borderWeight(), NO_PAD, 1);
        return y.add(border.add(e.bias().reshape(1, out, 1, 1)));
    }

    private static NDArray conv(NDArray x, NDArray w, Shape pad, int groups) {
        NDList r = Conv2d.conv2d(x, w, null, ONE, pad, ONE, groups);
        return r.singletonOrThrow();
    }

    /** Weight and bias with exp(3·scale) folded in; tensor ops in training so gradients flow. */
    private Effective effective(boolean training) {
        NDArray e = Tensors.times(scale, 3).exp().reshape(out, 1, 1, 1);
        NDArray w = weight.mul(e);
        NDArray b = bias.mul(e.reshape(out));
        NDArray borderWeight = w.sum(new int[] {1}, true);
        NDArray taps = out < MIN_DIRECT_OUT
                ? w.reshape(out, in, 9).transpose(0, 2, 1).reshape(out * 9L, in)
                : null;
        NDArray tapsKernel = taps == null ? null : ChannelsLast.of(taps.reshape(out * 9L, in, 1, 1));
        NDArray direct = ChannelsLast.of(w);
        if (training) {
            return new Effective(direct, taps, tapsKernel, borderWeight, b);
        }
        return new Effective(keep(direct), taps == null ? null : keep(taps), taps == null ? null : keep(tapsKernel),
                keep(borderWeight), keep(b));
    }

    /** A cached copy outside any scope, laid out as the view it copies. */
    private static NDArray keep(NDArray a) {
        NDArray c = a.add(0);
        return FlowParameters.persistent(c);
    }

    /** One channel of zeros inside a border of ones: (1, 1, h+2, w+2). */
    private NDArray border(long h, long w) {
        return borders.computeIfAbsent(h << 32 | w, k -> {
            NDArray zeros = params.manager().zeros(new Shape(1, 1, h, w), params.dataType());
            NDArray framed = FlowParameters.persistent(zeros.pad(new Shape(1, 1, 1, 1), 1.0));
            zeros.close();
            return framed;
        });
    }

    /** Grouped one-hot 3×3 kernel: output o sums tap t of channel o·9 + t shifted into place. */
    private NDArray foldKernel() {
        NDArray k = foldKernel;
        if (k == null) {
            synchronized (this) {
                if (foldKernel == null) {
                    double[] v = new double[out * 9 * 9];
                    for (int o = 0; o < out; o++) {
                        for (int tap = 0; tap < 9; tap++) {
                            v[(o * 9 + tap) * 9 + tap] = 1;
                        }
                    }
                    foldKernel = FlowParameters.persistent(
                            Tensors.create(params.manager(), v, new Shape(out, 9, 3, 3), params.dataType()));
                }
                k = foldKernel;
            }
        }
        return k;
    }
}
