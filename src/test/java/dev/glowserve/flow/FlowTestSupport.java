package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.util.Map;
import java.util.Random;

/** Models whose every trainable tensor is moved off its initial value, so no layer is trivial. */
public final class FlowTestSupport {

    private FlowTestSupport() {}

    public static Glow perturbedModel(GlowConfig config, DataType dataType, long seed, double sigma) {
        Glow glow = Glow.create(config, NDManager.newBaseManager(), dataType, seed);
        perturb(glow, seed, sigma);
        glow.markInitialized();
        return glow;
    }

    public static void perturb(Glow glow, long seed, double sigma) {
        Random random = new Random(seed * 31 + 7);
        for (Map.Entry<String, FlowParameters.Entry> e : glow.parameters().entries().entrySet()) {
            if (!e.getValue().trainable()) {
                continue;
            }
            NDArray a = e.getValue().array();
            double[] v = Tensors.toDoubles(a);
            for (int i = 0; i < v.length; i++) {
                v[i] += sigma * random.nextGaussian();
            }
            Tensors.assign(a, v);
        }
        glow.parameters().markUpdated();
    }

    public static float[] randomInput(int n, Random random) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextDouble() - 0.5);
        }
        return x;
    }
}
