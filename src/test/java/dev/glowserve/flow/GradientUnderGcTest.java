package dev.glowserve.flow;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gradients do not depend on a garbage collection between forward and backward: nothing autograd
 * keeps for the backward may live in Java memory that a collection frees (DJL's {@code mul(Number)}
 * scalars did, and a collection at the wrong moment corrupted gradients).
 */
class GradientUnderGcTest {

    private static Map<String, double[]> gradients(Glow glow, float[] x, int[] labels, boolean collectInBetween) {
        Map<String, double[]> out = new LinkedHashMap<>();
        try (NDScope scope = new NDScope(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            scope.suppressNotUsedWarning();
            NDArray xs = glow.manager().create(x, new Shape(4, 1, 8, 8));
            NDArray loss = glow.encode(xs, labels, Pass.TRAINING).logPx().mean().neg();
            if (collectInBetween) {
                churnJavaMemory();
            }
            collector.backward(loss);
        }
        glow.parameters().entries().forEach((name, e) -> {
            if (e.trainable()) {
                try (NDArray g = e.array().getGradient()) {
                    out.put(name, Tensors.toDoubles(g));
                }
                ai.djl.pytorch.jni.JniUtils.zeroGrad((ai.djl.pytorch.engine.PtNDArray) e.array());
            }
        });
        return out;
    }

    /** Collects garbage, lets cleaners free direct buffers, and reuses that memory with junk. */
    private static void churnJavaMemory() {
        for (int round = 0; round < 3; round++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            List<ByteBuffer> junk = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(4 + (i % 16) * 4);
                while (b.hasRemaining()) {
                    b.put((byte) 0x7f);
                }
                junk.add(b);
            }
            junk.clear();
        }
    }

    @Test
    void aCollectionBetweenForwardAndBackwardChangesNoGradient() {
        GlowConfig config = new GlowConfig(1, 8, 8, 2, 2, 6, true, true, 3);
        float[] x = FlowTestSupport.randomInput(4 * 64, new Random(3));
        int[] labels = {0, 2, 1, 2};
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 5, 0.1)) {
            glow.parameters().requireGradients();
            Map<String, double[]> quiet = gradients(glow, x, labels, false);
            Map<String, double[]> collected = gradients(glow, x, labels, true);
            assertThat(collected.keySet()).isEqualTo(quiet.keySet());
            for (String name : quiet.keySet()) {
                double[] a = quiet.get(name);
                double[] b = collected.get(name);
                for (int i = 0; i < a.length; i++) {
                    // == on purpose: exactly equal values (0.0 and -0.0 alike), NaN never
                    assertThat(a[i] == b[i]).as("%s[%d]: %s without, %s with a collection", name, i, a[i], b[i]).isTrue();
                }
            }
        }
    }
}
