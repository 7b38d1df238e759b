package dev.glowserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam (Kingma &amp; Ba) with PyTorch's bias-corrected update. Written here rather than taken from
 * DJL because its moments must go into checkpoints, which DJL's optimizer keeps private.
 */
public final class Adam {

    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final Map<String, NDArray> mean = new LinkedHashMap<>();
    private final Map<String, NDArray> variance = new LinkedHashMap<>();
    private long updates;

    public Adam(double beta1, double beta2, double epsilon) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
    }

    public long updates() {
        return updates;
    }

    public Map<String, NDArray> mean() {
        return mean;
    }

    public Map<String, NDArray> variance() {
        return variance;
    }

    /** Zeroed moments for each named parameter, in the parameters' manager. */
    public void initialize(Map<String, NDArray> params) {
        params.forEach((name, p) -> {
            mean.put(name, persistent(p.zerosLike()));
            variance.put(name, persistent(p.zerosLike()));
        });
    }

    /** Restores moments and the update count from a checkpoint. */
    public void restore(Map<String, NDArray> m, Map<String, NDArray> v, long count) {
        m.forEach((name, a) -> a.copyTo(mean.get(name)));
        v.forEach((name, a) -> a.copyTo(variance.get(name)));
        this.updates = count;
    }

    /**
     * One update of every parameter in place: {@code p -= lr/(1-β1^t) · m / (sqrt(v/(1-β2^t)) + ε)},
     * with gradients scaled by {@code gradScale} (the clipping factor) first.
     */
    public void update(List<String> names, List<NDArray> params, List<NDArray> grads, double lr, double gradScale) {
        updates++;
        double bc1 = 1 - Math.pow(beta1, updates);
        double bc2 = 1 - Math.pow(beta2, updates);
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false); // in-place updates of leaves must not be recorded
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int i = 0; i < params.size(); i++) {
                NDArray g = gradScale == 1 ? grads.get(i) : grads.get(i).mul(gradScale);
                NDArray m = mean.get(names.get(i));
                NDArray v = variance.get(names.get(i));
                m.muli(beta1).addi(g.mul(1 - beta1));
                v.muli(beta2).addi(g.square().muli(1 - beta2));
                NDArray denom = v.sqrt().divi(Math.sqrt(bc2)).addi(epsilon);
                params.get(i).subi(m.div(denom).muli(lr / bc1));
            }
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    private static NDArray persistent(NDArray a) {
        NDScope.unregister(a);
        return a;
    }

    public void close() {
        mean.values().forEach(NDArray::close);
        variance.values().forEach(NDArray::close);
    }
}
