package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Per-channel affine normalisation {@code y = scale·(x + loc)}, log-det {@code H·W·Σ log|scale|}.
 * Its data-dependent initialisation runs only in a {@link Pass#DATA_INIT} pass on a model that has
 * never been initialised; a loaded model is initialised by definition.
 */
public final class ActNorm implements FlowLayer {

    private final FlowParameters params;
    private final NDArray loc;
    private final NDArray scale;
    private final NDArray initializedFlag;
    private final VersionedCache<Double> cache;
    private volatile boolean initialized;

    ActNorm(FlowParameters params, String prefix, int channels) {
        this.params = params;
        Shape shape = new Shape(1, channels, 1, 1);
        this.loc = params.zeros(prefix + "loc", shape, true);
        double[] ones = new double[channels];
        java.util.Arrays.fill(ones, 1.0);
        this.scale = params.add(prefix + "scale", shape, ones, true);
        this.initializedFlag = params.flag(prefix + "initialized", false);
        this.cache = new VersionedCache<>(params);
    }

    public boolean initialized() {
        return initialized;
    }

    void markInitialized() {
        initialized = true;
        initializedFlag.set(java.nio.ByteBuffer.wrap(new byte[] {1}));
    }

    @Override
    public NDArray forward(NDArray x, Pass pass, LogDet logDet) {
        if (pass == Pass.DATA_INIT && !initialized) {
            initializeFrom(x);
        }
        long hw = x.getShape().get(2) * x.getShape().get(3);
        if (pass.training()) {
            logDet.add(Tensors.times(scale.abs().log().sum(), hw));
        } else {
            logDet.add(hw * logAbsScaleSum());
        }
        return x.add(loc).mul(scale);
    }

    @Override
    public NDArray reverse(NDArray y) {
        return y.div(scale).sub(loc);
    }

    /** Σ log|scale| (per spatial position), cached per parameter version. */
    double logAbsScaleSum() {
        return cache.get(this::build);
    }

    /** loc and scale per channel, in double. */
    double[][] locAndScale() {
        return new double[][] {Tensors.toDoubles(loc), Tensors.toDoubles(scale)};
    }

    private Double build() {
        double s = 0;
        for (double v : Tensors.toDoubles(scale)) {
            s += Math.log(Math.abs(v));
        }
        return s;
    }

    /** loc = -mean, scale = 1/(std + 1e-6) per channel over batch and space (std unbiased, as torch). */
    private void initializeFrom(NDArray x) {
        Shape s = x.getShape();
        int c = (int) s.get(1);
        double[] v = Tensors.toDoubles(x);
        long perChannel = s.get(0) * s.get(2) * s.get(3);
        long plane = s.get(2) * s.get(3);
        double[] mean = new double[c];
        double[] m2 = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (long b = 0; b < s.get(0); b++) {
                long base = (b * c + ch) * plane;
                for (long i = 0; i < plane; i++) {
                    sum += v[(int) (base + i)];
                }
            }
            mean[ch] = sum / perChannel;
            double sq = 0;
            for (long b = 0; b < s.get(0); b++) {
                long base = (b * c + ch) * plane;
                for (long i = 0; i < plane; i++) {
                    double d = v[(int) (base + i)] - mean[ch];
                    sq += d * d;
                }
            }
            m2[ch] = sq;
        }
        double[] newLoc = new double[c];
        double[] newScale = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double std = Math.sqrt(m2[ch] / Math.max(1, perChannel - 1));
            newLoc[ch] = -mean[ch];
            newScale[ch] = 1 / (std + 1e-6);
        }
        Tensors.assign(loc, newLoc);
        Tensors.assign(scale, newScale);
        markInitialized();
        params.markUpdated();
    }
}
