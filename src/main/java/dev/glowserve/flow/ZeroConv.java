package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * 3×3 convolution over an input padded with ones, scaled by {@code exp(3·scale)}; weight, bias and
 * scale start at zero so a fresh coupling is the identity and a fresh prior is N(0, I).
 *
 * <p>Computed without materialising the padded input: a zero-padded convolution plus the constant
 * the ones-border adds at each output position ({@code conv(border, w)}) plus the bias; for
 * inference that constant, the bias and a fixed output offset (the coupling's {@code +2} before
 * its sigmoid) are one cached tensor per input size, so a call is a convolution and one add. The
 * scale is folded into weight and bias. With few outputs oneDNN's 3×3 kernel wastes most of its
 * vector lanes, so there the 9 taps run as one 1×1 conv (or, from rows, one GEMM) to 9·out channels
 * followed by a fixed one-hot 3×3 conv that shifts and sums them ({@link InferenceRoutes}).
 */
final class ZeroConv {

    /**
     * Weight and bias with the scale folded in; the taps as a (9·out, in) matrix (null in training
     * from {@link #MIN_DIRECT_OUT} outputs, where nothing uses them) and, below that, as a 1×1 kernel.
     */
    private record Effective(NDArray weight, NDArray taps, NDArray tapsKernel, NDArray scatterTaps, NDArray borderWeight,
                             NDArray bias, Map<Long, NDArray> constants) implements AutoCloseable {
        @Override
        public void close() {
            new NDList(weight, borderWeight, bias).close();
            for (NDArray a : new NDArray[] {taps, tapsKernel, scatterTaps}) {
                if (a != null) {
                    a.close();
                }
            }
            constants.values().forEach(NDArray::close);
        }
    }

    private static final Shape ONE = new Shape(1, 1);
    private static final Shape PAD = new Shape(1, 1);
    private static final Shape NO_PAD = new Shape(0, 0);

    /** The weights the inference passes read at (h, w), by route (for the scripted pass's binder). */
    record Weights(InferenceRoutes.ZeroConv route, NDArray taps, NDArray shift, NDArray kernel, NDArray constant) {}

    /**
     * Inference weights at (h, w): the taps and the shift matrix (rows GEMM), the taps in scatter order (col2im),
     * or the direct kernel; and the constant.
     */
    Weights inferenceWeights(long h, long w) {
        Effective e = effective(Pass.INFERENCE);
        NDArray c = constant(e, h, w, Pass.INFERENCE);
        InferenceRoutes.ZeroConv route = InferenceRoutes.zeroConv(h, w, out, false);
        return switch (route) {
            case ROWS_GEMM -> new Weights(route, e.taps(), shift(h, w), null, c);
            case TAPS -> new Weights(route, e.scatterTaps(), null, null, c);
            case DIRECT -> new Weights(route, null, null, e.weight(), c);
        };
    }

    private final FlowParameters params;
    private final int in;
    private final int out;
    private final double firstHalfOffset;
    private final NDArray weight;
    private final NDArray bias;
    private final NDArray scale;
    private final VersionedCache<Effective> cache;
    private final Map<Long, NDArray> borders = new ConcurrentHashMap<>();
    private final Map<Long, NDArray> shifts = new ConcurrentHashMap<>();
    private volatile NDList fixed;

    /**
     * @param firstHalfOffset added to the first {@code out / 2} outputs (a constant, not a weight):
     *     the affine coupling's {@code +2}, folded into the bias instead of one more op per call
     */
    ZeroConv(FlowParameters params, String prefix, int in, int out, double firstHalfOffset) {
        this.params = params;
        this.in = in;
        this.out = out;
        this.firstHalfOffset = firstHalfOffset;
        this.weight = params.zeros(prefix + "conv.weight", new Shape(out, in, 3, 3), true);
        this.bias = params.zeros(prefix + "conv.bias", new Shape(out), true);
        this.scale = params.zeros(prefix + "scale", new Shape(1, out, 1, 1), true);
        this.cache = new VersionedCache<>(params);
    }

    ZeroConv(FlowParameters params, String prefix, int in, int out) {
        this(params, prefix, in, out, 0);
    }

    /**
     * x (B, in, H, W) → (B, out, H, W), always in plain NCHW memory: the (NCHW) constant is the
     * first operand of the final add, so PyTorch lays the sum out like it whatever the conv gave,
     * which saves a copy back from channels-last.
     */
    NDArray apply(NDArray x, Pass pass) {
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        InferenceRoutes.ZeroConv route = InferenceRoutes.zeroConv(h, w, out, pass.training());
        if (route == InferenceRoutes.ZeroConv.ROWS_GEMM) {
            return applyRows(x.transpose(0, 2, 3, 1), x.getShape().get(0), h, w, pass);
        }
        Effective e = effective(pass);
        NDArray y = route == InferenceRoutes.ZeroConv.TAPS ? foldGrouped(conv(x, e.tapsKernel(), NO_PAD, 1))
                : conv(x, e.weight(), PAD, 1);
        return constant(e, h, w, pass).add(y);
    }

    /**
     * The same from input rows in (b, y, x) order: (B·H·W, in) in training, (B, H, W, in) in
     * inference. Inference on small maps always goes through the taps, as GEMMs: the 3×3 conv and
     * the 1×1 conv of oneDNN gave an image different last bits alone than inside a batch at 7×7,
     * GEMMs did not; the fold is then a GEMM with a fixed shift matrix, faster than the grouped fold.
     */
    NDArray applyRows(NDArray rows, long n, long h, long w, Pass pass) {
        Effective e = effective(pass);
        boolean flat = rows.getShape().dimension() == 2;
        NDArray y;
        InferenceRoutes.ZeroConv route = InferenceRoutes.zeroConv(h, w, out, pass.training());
        if (route == InferenceRoutes.ZeroConv.ROWS_GEMM) {
            // (9·out, in) · (B, in, H·W) → (B, 9·out, H·W) = (B, out, 9·H·W); · shift → (B, out, H·W)
            NDArray t = e.taps().matMul(rows.reshape(n, h * w, in).transpose(0, 2, 1));
            y = t.reshape(n, out, 9 * h * w).matMul(shift(h, w)).reshape(n, out, h, w);
        } else if (route == InferenceRoutes.ZeroConv.TAPS) {
            NDArray t = Linear.linear(rows, e.taps()).singletonOrThrow();
            y = foldGrouped((flat ? t.reshape(n, h, w, out * 9L) : t).transpose(0, 3, 1, 2));
        } else {
            y = conv((flat ? rows.reshape(n, h, w, in) : rows).transpose(0, 3, 1, 2), e.weight(), PAD, 1);
        }
        return constant(e, h, w, pass).add(y);
    }

    /** Taps (B, 9·out, H, W) → (B, out, H, W) with the grouped one-hot kernel. */
    private NDArray foldGrouped(NDArray taps) {
        return conv(taps, foldKernel(), PAD, out);
    }

    /** Built per pass in training (so gradients flow), cached per weight version otherwise. */
    private Effective effective(Pass pass) {
        return pass.training() ? effective(true) : cache.get(() -> effective(false));
    }

    /** What the ones-border contributes at each output position, plus the bias and offset: (1, out, h, w). */
    private NDArray constant(Effective e, long h, long w, Pass pass) {
        if (pass.training()) {
            return computeConstant(e, h, w);
        }
        return e.constants().computeIfAbsent(h << 32 | w, k -> {
            NDArray c = computeConstant(e, h, w);
            return FlowParameters.persistent(c);
        });
    }

    private NDArray computeConstant(Effective e, long h, long w) {
        NDArray border = conv(border(h, w), e.borderWeight(), NO_PAD, 1);
        return border.add(e.bias().reshape(1, out, 1, 1));
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
        if (firstHalfOffset != 0) {
            b = b.add(offset());
        }
        NDArray borderWeight = w.sum(new int[] {1}, true);
        // row o·9 + t: tap t = ky·3 + kx of output o
        NDArray taps = training && out >= InferenceRoutes.MIN_DIRECT_OUT
                ? null
                : w.reshape(out, in, 9).transpose(0, 2, 1).reshape(out * 9L, in);
        NDArray tapsKernel = out < InferenceRoutes.MIN_DIRECT_OUT ? ChannelsLast.of(taps.reshape(out * 9L, in, 1, 1)) : null;
        NDArray direct = ChannelsLast.of(w);
        if (training) {
            return new Effective(direct, taps, tapsKernel, null, borderWeight, b, Map.of());
        }
        // col2im scatters tap t of a position to its neighbour at offset t; the conv gathers from
        // offset t, i.e. scatters with the opposite offset: the taps in reverse order
        NDArray scatterTaps = tapsKernel == null ? null : keep(taps.reshape(out, 9, in).flip(1).reshape(out * 9L, in));
        return new Effective(keep(direct), keep(taps), tapsKernel == null ? null : keep(tapsKernel), scatterTaps,
                keep(borderWeight), keep(b), new ConcurrentHashMap<>());
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

    /** The grouped one-hot fold kernel (out, 9, 3, 3): output o sums tap t of channel o·9 + t shifted into place. */
    private NDArray foldKernel() {
        return fixedKernels().get(0);
    }

    /** The output offset (out): {@code firstHalfOffset} on the first half. */
    private NDArray offset() {
        return fixedKernels().get(1);
    }

    private NDList fixedKernels() {
        NDList k = fixed;
        if (k == null) {
            synchronized (this) {
                if (fixed == null) {
                    double[] grouped = new double[out * 9 * 9];
                    for (int o = 0; o < out; o++) {
                        for (int tap = 0; tap < 9; tap++) {
                            grouped[(o * 9 + tap) * 9 + tap] = 1;
                        }
                    }
                    double[] offset = new double[out];
                    java.util.Arrays.fill(offset, 0, out / 2, firstHalfOffset);
                    NDList made = new NDList(
                            Tensors.create(params.manager(), grouped, new Shape(out, 9, 3, 3), params.dataType()),
                            Tensors.create(params.manager(), offset, new Shape(out), params.dataType()));
                    made.forEach(FlowParameters::persistent);
                    fixed = made;
                }
                k = fixed;
            }
        }
        return k;
    }

    /**
     * The zero-padded 3×3 shift-and-sum as a (9·h·w, h·w) 0/1 matrix: row t·h·w + source position,
     * column target position, for tap t = ky·3 + kx reading source (y + ky - 1, x + kx - 1).
     */
    private NDArray shift(long h, long w) {
        return shifts.computeIfAbsent(h << 32 | w, k -> {
            int hw = (int) (h * w);
            double[] s = new double[9 * hw * hw];
            for (int t = 0; t < 9; t++) {
                int dy = t / 3 - 1;
                int dx = t % 3 - 1;
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int sy = y + dy;
                        int sx = x + dx;
                        if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
                            s[(t * hw + sy * (int) w + sx) * hw + y * (int) w + x] = 1;
                        }
                    }
                }
            }
            return FlowParameters.persistent(Tensors.create(params.manager(), s, new Shape(9L * hw, hw), params.dataType()));
        });
    }
}
