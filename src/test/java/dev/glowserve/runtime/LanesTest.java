package dev.glowserve.runtime;

import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.bench.InferenceBench;
import dev.glowserve.flow.FlowTestSupport;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Latents;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The command line's lanes: a batch cut into chunks run side by side on single-threaded lanes gives
 * every image the bits one pass gives it, and the lanes leave the caller's intra-op threads alone.
 */
class LanesTest {

    static final GlowConfig CONDITIONAL = new GlowConfig(1, 28, 28, 2, 2, 16, true, true, 3);
    static ModelRunner onePass;
    static ModelRunner chunked;

    @BeforeAll
    static void model() {
        Glow glow = FlowTestSupport.perturbedModel(CONDITIONAL, DataType.FLOAT32, 6, 0.06);
        onePass = ModelRunner.builder(new Manifest("t", "1", Architecture.of(CONDITIONAL), 8, "x", null, null, null, null), glow).name("t").chunkSize(64).build();
        chunked = ModelRunner.builder(onePass.manifest(), glow).name("t").chunkSize(64).lanes(new Lanes(2)).borrowing().build();
    }

    @AfterAll
    static void close() {
        chunked.close();
        onePass.close();
    }

    @Test
    void chunksOnLanesGiveTheBitsOfOnePass() {
        int n = 2 * Lanes.CHUNK + 7; // two full chunks and a short one
        assertThat(Lanes.splits(chunked.lanes(), n)).isTrue();
        assertThat(Lanes.splits(chunked.lanes(), 2 * Lanes.CHUNK - 1)).isFalse();
        List<byte[]> images = InferenceBench.images(onePass, n, 4);
        int[] labels = Latents.sampleLabels(chunked.config(), n, null, 2);
        for (int[] l : new int[][] {labels, null}) { // null: the marginal over classes, per image
            List<ModelRunner.Encoded> expected = onePass.encode(images, l);
            List<ModelRunner.Encoded> actual = chunked.encode(images, l);
            assertThat(actual).hasSize(n);
            for (int i = 0; i < n; i++) {
                assertThat(actual.get(i).score()).as("score of image %d", i).usingRecursiveComparison().isEqualTo(expected.get(i).score());
                assertThat(actual.get(i).eps()).as("eps of image %d", i).isDeepEqualTo(expected.get(i).eps());
                assertThat(actual.get(i).z()).as("z of image %d", i).isDeepEqualTo(expected.get(i).z());
            }
        }
        List<float[][]> eps = Latents.sample(CONDITIONAL, n, 0.8, 5);
        List<byte[]> decoded = chunked.decode(eps, labels);
        List<byte[]> reference = onePass.decode(eps, labels);
        for (int i = 0; i < n; i++) {
            assertThat(decoded.get(i)).as("decoded image %d", i).isEqualTo(reference.get(i));
        }
        assertThat(decoded.get(0)).isNotEqualTo(decoded.get(1));
    }

    @Test
    void lanesRunOneIntraOpThreadAndLeaveTheCallersCount() {
        int callers = JniUtils.getNumThreads();
        try (Lanes lanes = new Lanes(2)) {
            assertThat(JniUtils.getNumThreads()).isEqualTo(callers);
            assertThat(lanes.onEach(JniUtils::getNumThreads)).containsExactly(1, 1);
            assertThat(lanes.onEach(() -> Thread.currentThread().getName())).allMatch(name -> name.startsWith("glow-lane-"));
            assertThat(JniUtils.getNumThreads()).isEqualTo(callers);
        }
    }

    @Test
    void aChunksErrorReachesTheCaller() {
        List<byte[]> images = new ArrayList<>(InferenceBench.images(onePass, 2 * Lanes.CHUNK, 1));
        images.set(20, new byte[5]);
        assertThatThrownBy(() -> chunked.encode(images, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has 5 values");
    }
}
