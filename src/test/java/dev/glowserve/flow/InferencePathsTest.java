package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The served answer for an image must not depend on what else is in its batch: encode and decode
 * give the same bits alone and inside batches of any size (the batching scheduler mixes requests).
 * The shapes are the benchmark's (28×28, hidden 256) and the shipped model's (hidden 128, 10
 * classes): at 7×7 oneDNN's convolutions broke this, so small maps run as GEMMs. Both inference
 * passes, the TorchScript one that serves and the eager one, and the training pass (GEMMs with
 * their own fold) agrees to rounding.
 */
class InferencePathsTest {

    @ParameterizedTest(name = "hidden {0}, scripted {1}")
    @CsvSource({"256, true", "128, true", "256, false", "128, false"})
    void imageGetsTheSameBitsAloneAndInAnyBatch(int hidden, boolean scripted) {
        int classes = hidden == 128 ? 10 : 0;
        GlowConfig config = new GlowConfig(1, 28, 28, 2, 2, hidden, true, true, classes);
        int batch = 20;
        int[] labels = classes == 0 ? null : java.util.stream.IntStream.range(0, batch).map(i -> i % classes).toArray();
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 5, 0.02);
                NDScope scope = new NDScope();
                NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            InferencePass pass = InferencePass.open(glow, scripted ? InferenceSettings.DEFAULT : InferenceSettings.EAGER);
            assertThat(pass instanceof ScriptedPass).isEqualTo(scripted);
            float[] input = FlowTestSupport.randomInput(batch * config.dimensions(), new Random(3));
            NDArray all = m.create(input, new Shape(batch, 1, 28, 28));
            Encoding batched = pass.encode(all, labels);
            float[] batchedLogP = batched.logPx().toFloatArray();
            float[] decoded = pass.decode(batched.eps(), labels).toFloatArray();
            int perImage = config.dimensions();
            for (int[] slice : new int[][] {{0, 1}, {7, 8}, {19, 20}, {3, 8}}) {
                String range = slice[0] + ":" + slice[1];
                int[] partLabels = labels == null ? null : java.util.Arrays.copyOfRange(labels, slice[0], slice[1]);
                Encoding part = pass.encode(all.get(range), partLabels);
                float[] logP = part.logPx().toFloatArray();
                for (int i = 0; i < logP.length; i++) {
                    assertThat(logP[i]).as("log p of image %d, batch %s vs %d", slice[0] + i, range, batch)
                            .isEqualTo(batchedLogP[slice[0] + i]);
                }
                for (int l = 0; l < config.levels(); l++) {
                    assertThat(part.eps().get(l).toFloatArray()).as("eps level %d, batch %s", l, range)
                            .containsExactly(batched.eps().get(l).get(range).toFloatArray());
                }
                float[] partDecoded = pass.decode(part.eps(), partLabels).toFloatArray();
                for (int k = 0; k < partDecoded.length; k++) {
                    assertThat(partDecoded[k]).as("decoded value %d, batch %s", k, range)
                            .isEqualTo(decoded[slice[0] * perImage + k]);
                }
            }
            float[] trainingLogP = glow.encode(all, labels, Pass.TRAINING).logPx().toFloatArray();
            for (int i = 0; i < batch; i++) {
                assertThat(trainingLogP[i]).as("training pass, image %d", i)
                        .isCloseTo(batchedLogP[i], within(1e-4f * Math.abs(batchedLogP[i])));
            }
            assertThat(batchedLogP[0]).as("the perturbed couplings matter").isNotEqualTo(batchedLogP[1]);
        }
    }
}
