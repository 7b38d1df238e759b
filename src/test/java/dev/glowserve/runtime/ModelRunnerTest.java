package dev.glowserve.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.flow.FlowTestSupport;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Latents;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModelRunnerTest {

    static final GlowConfig CONDITIONAL = new GlowConfig(1, 8, 8, 2, 2, 16, true, true, 3);
    static ModelRunner runner;

    @BeforeAll
    static void model() {
        Glow glow = FlowTestSupport.perturbedModel(CONDITIONAL, DataType.FLOAT32, 3, 0.08);
        runner = ModelRunner.builder(new Manifest("t", "1", Architecture.of(CONDITIONAL), 8, "x", null, null, null, null), glow).name("t").chunkSize(5).build();
    }

    @AfterAll
    static void close() {
        runner.close();
    }

    @Test
    void sameSeedSameSamplesAndPrefixStable() {
        int[] labels = Latents.sampleLabels(runner.config(), 12, null, 9);
        List<byte[]> a = runner.sample(12, 0.7, 9, labels);
        List<byte[]> b = runner.sample(12, 0.7, 9, labels);
        for (int i = 0; i < 12; i++) {
            assertThat(a.get(i)).isEqualTo(b.get(i));
        }
        // the first images of a larger draw are the same images (batching does not change samples)
        List<byte[]> first = runner.sample(3, 0.7, 9, java.util.Arrays.copyOf(labels, 3));
        for (int i = 0; i < 3; i++) {
            assertThat(first.get(i)).isEqualTo(a.get(i));
        }
        List<byte[]> other = runner.sample(12, 0.7, 10, labels);
        assertThat(other.get(0)).isNotEqualTo(a.get(0));
    }

    @Test
    void temperatureZeroGivesThePriorMean() {
        List<float[][]> zero = Latents.sample(CONDITIONAL, 2, 0.0, 5);
        for (float[][] e : zero) {
            for (float[] level : e) {
                for (float v : level) {
                    assertThat(v).isZero();
                }
            }
        }
        // decoding eps = 0 puts every z at its prior mean: encoding the result gives eps back at 0
        try (NDScope scope = new NDScope(); NDManager m = runner.glow().manager().newSubManager()) {
            NDList eps = Latents.toTensors(m, CONDITIONAL, zero, DataType.FLOAT32);
            int[] labels = {1, 2};
            NDArray x = runner.glow().decode(eps, labels);
            var enc = runner.glow().encode(x, labels, dev.glowserve.flow.Pass.INFERENCE); // the eager layers
            for (NDArray level : enc.eps()) {
                for (float v : level.toFloatArray()) {
                    assertThat(v).isCloseTo(0f, within(1e-4f));
                }
            }
        }
        List<byte[]> s1 = runner.sample(2, 0.0, 1, new int[] {1, 1});
        List<byte[]> s2 = runner.sample(2, 0.0, 2, new int[] {1, 1});
        assertThat(s1.get(0)).isEqualTo(s2.get(0)).isEqualTo(s1.get(1));
    }

    @Test
    void marginalScoreIsTheClassMixture() {
        List<byte[]> images = new ArrayList<>();
        Random r = new Random(2);
        for (int i = 0; i < 7; i++) {
            byte[] img = new byte[64];
            r.nextBytes(img);
            images.add(img);
        }
        List<ModelRunner.Score> marginal = runner.score(images, null);
        double[][] byClass = new double[3][];
        for (int c = 0; c < 3; c++) {
            int[] labels = new int[7];
            java.util.Arrays.fill(labels, c);
            byClass[c] = runner.score(images, labels).stream().mapToDouble(ModelRunner.Score::logPNats).toArray();
        }
        for (int i = 0; i < 7; i++) {
            double max = Math.max(byClass[0][i], Math.max(byClass[1][i], byClass[2][i]));
            double lse = max + Math.log(Math.exp(byClass[0][i] - max) + Math.exp(byClass[1][i] - max) + Math.exp(byClass[2][i] - max));
            assertThat(marginal.get(i).logPNats()).isCloseTo(lse - Math.log(3), within(2e-3));
            int best = byClass[0][i] == max ? 0 : byClass[1][i] == max ? 1 : 2;
            assertThat(marginal.get(i).label()).isEqualTo(best);
            assertThat(java.util.Arrays.stream(marginal.get(i).classProbabilities()).sum()).isCloseTo(1.0, within(1e-9));
        }
    }

    @Test
    void encodeDecodeGivesTheImagesBackAcrossChunks() {
        List<byte[]> images = new ArrayList<>();
        Random r = new Random(4);
        for (int i = 0; i < 12; i++) { // chunk size 5: three chunks
            byte[] img = new byte[64];
            r.nextBytes(img);
            images.add(img);
        }
        List<ModelRunner.Encoded> enc = runner.encode(images, null);
        int[] labels = enc.stream().mapToInt(e -> e.score().label()).toArray();
        List<byte[]> back = runner.decode(enc.stream().map(ModelRunner.Encoded::eps).toList(), labels);
        for (int i = 0; i < images.size(); i++) {
            assertThat(back.get(i)).isEqualTo(images.get(i));
        }
    }

    @Test
    void latentsFarFromThePriorStillDecodeToImages() {
        // 1/s in the reverse coupling explodes for such latents; the reverse pass is bounded instead of producing NaN
        for (double t : new double[] {5, 100, 1000}) {
            List<byte[]> images = runner.sample(4, t, 3, new int[] {0, 1, 2, 0});
            assertThat(images).hasSize(4).allSatisfy(img -> assertThat(img).hasSize(64));
        }
    }

    @Test
    void unconditionalModelsRefuseAClass() {
        GlowConfig plain = CONDITIONAL.withClasses(0);
        try (ModelRunner u = ModelRunner.builder(new Manifest("u", "1", Architecture.of(plain), 8, "x", null, null, null, null),
                Glow.create(plain, NDManager.newBaseManager(), DataType.FLOAT32, 1)).name("u").chunkSize(8).build()) {
            assertThat(Latents.sampleLabels(u.config(), 3, null, 1)).isNull();
            assertThatThrownBy(() -> Latents.sampleLabels(u.config(), 3, 1, 1)).hasMessageContaining("unconditional");
        }
    }
}
