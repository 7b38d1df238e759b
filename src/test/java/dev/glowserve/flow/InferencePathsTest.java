package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Small inputs run the coupling's 1×1 conv and ZeroConv taps as GEMMs over rows, large ones as
 * convolutions, and the training pass as GEMMs with its own ZeroConv fold: an image must get the
 * same encoding alone, inside a large batch, and in the training pass.
 */
class InferencePathsTest {

    @Test
    void imageAloneInABatchAndInTrainingEncodeAlike() {
        // 16×16: level 1 has 8×8 positions, so 20 images (1,280 rows) take the convolutions at level 1
        GlowConfig config = new GlowConfig(1, 16, 16, 2, 2, 16, true, true, 0);
        int batch = 20;
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 5, 0.05);
                NDScope scope = new NDScope();
                NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            float[] input = FlowTestSupport.randomInput(batch * config.dimensions(), new Random(3));
            NDArray all = m.create(input, new Shape(batch, 1, 16, 16));
            Encoding batched = glow.encode(all, null, Pass.INFERENCE);
            Encoding training = glow.encode(all, null, Pass.TRAINING);
            float[] batchedLogP = batched.logPx().toFloatArray();
            float[] trainingLogP = training.logPx().toFloatArray();
            for (int i : new int[] {0, 7, batch - 1}) {
                Encoding alone = glow.encode(all.get(i + ":" + (i + 1)), null, Pass.INFERENCE);
                float logP = alone.logPx().toFloatArray()[0];
                assertThat(logP).as("image %d alone vs in the batch", i)
                        .isCloseTo(batchedLogP[i], within(1e-4f * Math.abs(batchedLogP[i])));
                for (int l = 0; l < config.levels(); l++) {
                    float[] a = alone.eps().get(l).toFloatArray();
                    float[] b = batched.eps().get(l).get(i + ":" + (i + 1)).toFloatArray();
                    for (int k = 0; k < a.length; k++) {
                        assertThat(a[k]).as("eps level %d [%d] of image %d", l, k, i).isCloseTo(b[k], within(1e-4f));
                    }
                }
            }
            for (int i = 0; i < batch; i++) {
                assertThat(trainingLogP[i]).as("training pass, image %d", i)
                        .isCloseTo(batchedLogP[i], within(1e-4f * Math.abs(batchedLogP[i])));
            }
            // the perturbed ZeroConvs make the coupling matter: not a trivially equal identity flow
            assertThat(batchedLogP[0]).isNotEqualTo(batchedLogP[1]);
        }
    }
}
