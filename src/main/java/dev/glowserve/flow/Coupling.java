package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

import java.util.Random;

/**
 * Coupling: the first half of the channels, {@code a}, passes through and conditions the second.
 * {@code net(a)} = conv3×3 → ReLU → conv1×1 → ReLU → ZeroConv. Affine: {@code log_s, t =
 * split(net(a))}, {@code s = sigmoid(log_s + 2)}, {@code b' = (b + t)·s}, log-det {@code Σ log s};
 * additive: {@code b' = b + net(a)}, log-det 0. The {@code +2} is folded into the ZeroConv's bias.
 */
public final class Coupling implements FlowLayer {

    private static final Shape ONE = new Shape(1, 1);
    private static final Shape PAD_ONE = new Shape(1, 1);
    private static final Shape NO_PAD = new Shape(0, 0);

    /**
     * The hidden layers' weights: for inference as channels-last kernels plus the 1×1 conv as a
     * (hidden, hidden) matrix for small inputs (cached); for training as the matrices of the GEMMs
     * over rows: the 3×3 conv as (hidden, 9·half) for im2col rows, the 1×1 conv as (hidden, hidden).
     */
    private record Hidden(NDArray w0, NDArray w2, NDArray w2Rows) implements AutoCloseable {
        @Override
        public void close() {
            w0.close();
            w2.close();
            if (w2Rows != null) {
                w2Rows.close();
            }
        }
    }

    private final boolean affine;
    private final int hidden;
    private final VersionedCache<Hidden> cache;
    private final NDArray w0;
    private final NDArray b0;
    private final NDArray w2;
    private final NDArray b2;
    private final ZeroConv out;

    Coupling(FlowParameters params, String prefix, int channels, int hidden, boolean affine, Random random) {
        this.affine = affine;
        this.hidden = hidden;
        int half = channels / 2;
        this.w0 = params.add(prefix + "net.0.weight", new Shape(hidden, half, 3, 3), normal(hidden * half * 9, random), true);
        this.b0 = params.zeros(prefix + "net.0.bias", new Shape(hidden), true);
        this.w2 = params.add(prefix + "net.2.weight", new Shape(hidden, hidden, 1, 1), normal(hidden * hidden, random), true);
        this.b2 = params.zeros(prefix + "net.2.bias", new Shape(hidden), true);
        this.out = new ZeroConv(params, prefix + "net.4.", hidden, affine ? channels : half, affine ? 2 : 0);
        this.cache = new VersionedCache<>(params);
    }

    private Hidden hidden(Pass pass) {
        if (pass.training()) {
            // a copy in PyTorch's (aligned) memory: MKL's GEMM reads the parameter's Java-allocated
            // buffer slower, and training steps with it were slower
            return new Hidden(Im2col.weightRows(w0), w2.reshape(hidden, hidden).duplicate(), null);
        }
        return cache.get(() -> {
            // a (C, C, 1, 1) kernel is the same memory in both layouts: the GEMM matrix is a view of it
            NDArray kernel = FlowParameters.persistent(ChannelsLast.of(w2).duplicate());
            return new Hidden(FlowParameters.persistent(ChannelsLast.of(w0).duplicate()), kernel,
                    FlowParameters.persistent(kernel.reshape(hidden, hidden)));
        });
    }

    /** N(0, 0.05²) initial weights, as the reference implementation. */
    private static double[] normal(int n, Random random) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0.05 * random.nextGaussian();
        }
        return v;
    }

    NDArray net(NDArray a, Pass pass) {
        return Scopes.one(() -> {
            Hidden w = hidden(pass);
            // ZeroConv answers in NCHW memory, as the elementwise ops and the next 1x1 conv want it
            return pass.training() ? trainingNet(a, w) : inferenceNet(a, w, pass);
        });
    }

    /**
     * Channels-last convolutions. {@code a} goes in as it is (a channel slice of an NCHW tensor):
     * with the channels-last weight oneDNN converts it inside the op, faster than converting it first, and
     * its output is channels-last. Small maps ({@link InferenceRoutes#smallMap}) take
     * the 1×1 conv and the ZeroConv as GEMMs over the rows view of that output, which is free in
     * channels-last memory.
     */
    private NDArray inferenceNet(NDArray a, Hidden w, Pass pass) {
        NDArray h = Conv2d.conv2d(a, w.w0(), b0, ONE, PAD_ONE, ONE).singletonOrThrow();
        h = Activation.relu(h);
        Shape s = h.getShape();
        if (InferenceRoutes.smallMap(s.get(2), s.get(3))) {
            // (B, H, W, hidden): a view of channels-last memory; linear works on its last axis
            NDArray rows = h.transpose(0, 2, 3, 1);
            rows = Activation.relu(Linear.linear(rows, w.w2Rows(), b2).singletonOrThrow());
            return out.applyRows(rows, s.get(0), s.get(2), s.get(3), pass);
        }
        h = Conv2d.conv2d(h, w.w2(), b2, ONE, NO_PAD, ONE).singletonOrThrow();
        h = Activation.relu(h);
        return out.apply(h, pass);
    }

    /** The weights the inference passes read at (h, w), for the scripted pass's binder. */
    record Weights(NDArray inKernel, NDArray inBias, NDArray hiddenKernel, NDArray hiddenBias, ZeroConv.Weights out) {}

    /** At a (h, w) map: the 3×3 kernel and bias, the 1×1 kernel (as a matrix on small maps) and bias, the ZeroConv's. */
    Weights inferenceWeights(long h, long w) {
        Hidden k = hidden(Pass.INFERENCE);
        return new Weights(k.w0(), b0, InferenceRoutes.smallMap(h, w) ? k.w2Rows() : k.w2(), b2, out.inferenceWeights(h, w));
    }

    /**
     * The same net with the hidden activations as (B·H·W, hidden) rows: every layer a GEMM whose
     * backward is two GEMMs, ReLU's backward on contiguous memory, and the first layer an im2col
     * GEMM: PyTorch's backward of a conv from 2 or 4 channels was the slowest op of a step.
     */
    private NDArray trainingNet(NDArray a, Hidden w) {
        Shape s = a.getShape();
        NDArray rows = Activation.relu(Linear.linear(Im2col.rows(a), w.w0(), b0).singletonOrThrow());
        rows = Activation.relu(Linear.linear(rows, w.w2(), b2).singletonOrThrow());
        return out.applyRows(rows, s.get(0), s.get(2), s.get(3), Pass.TRAINING);
    }

    @Override
    public NDArray forward(NDArray x, Pass pass, LogDet logDet) {
        NDList ab = x.split(2, 1);
        NDArray a = ab.get(0);
        NDArray b = ab.get(1);
        NDArray h = net(a, pass);
        if (!affine) {
            return NDArrays.concat(new NDList(a, b.add(h)), 1);
        }
        NDList st = h.split(2, 1);
        NDArray shifted = st.get(0);
        NDArray s = Activation.sigmoid(shifted);
        // Σ log sigmoid(v) = -Σ softplus(-v): finite where sigmoid underflows
        logDet.subtract(Activation.softPlus(shifted.neg()).sum(new int[] {1, 2, 3}));
        NDArray outB = b.add(st.get(1)).mul(s);
        return NDArrays.concat(new NDList(a, outB), 1);
    }

    /**
     * Bound on activations in the reverse pass. Encoded data never comes near it; latents far from
     * the prior can make 1/s explode through the layers, and without a bound that ends in inf - inf
     * = NaN instead of a (saturated) image.
     */
    static final float REVERSE_BOUND = 1e5f;
    static final float MIN_SCALE = 1e-30f;

    @Override
    public NDArray reverse(NDArray y) {
        NDList ab = y.split(2, 1);
        NDArray a = ab.get(0);
        NDArray outB = ab.get(1);
        NDArray h = net(a, Pass.INFERENCE);
        NDArray b;
        if (!affine) {
            b = outB.sub(h);
        } else {
            NDList st = h.split(2, 1);
            // clip, not maximum(Number): DJL makes a tensor from Java memory for every Number operand
            NDArray s = Activation.sigmoid(st.get(0)).clip(MIN_SCALE, 1);
            b = outB.div(s).sub(st.get(1));
        }
        return NDArrays.concat(new NDList(a, b.clip(-REVERSE_BOUND, REVERSE_BOUND)), 1);
    }
}
