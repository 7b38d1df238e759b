package dev.glowserve.runtime;

import ai.djl.ndarray.types.DataType;
import dev.glowserve.flow.FlowTestSupport;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.InferenceSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * glow.inference.tuning: auto tunes once in a child JVM and then reads its cache; a tuning file is taken only for its
 * own architecture, and a bad one is refused naming the file, never its folder or its content.
 */
class RouteTuningTest {

    static final GlowConfig CONFIG = new GlowConfig(1, 28, 28, 1, 2, 32, true, true, 0);

    @TempDir
    Path cache;
    private String before;

    @BeforeEach
    void cacheHere() {
        before = System.getProperty("glow.kernel-check.dir");
        System.setProperty("glow.kernel-check.dir", cache.toString());
    }

    @AfterEach
    void restore() {
        if (before == null) {
            System.clearProperty("glow.kernel-check.dir");
        } else {
            System.setProperty("glow.kernel-check.dir", before);
        }
    }

    @Test
    void autoTunesInAChildOnceThenReadsTheCacheAndAFileCarriesIt() throws Exception {
        try (Glow glow = FlowTestSupport.perturbedModel(CONFIG, DataType.FLOAT32, 3, 0.02)) {
            RouteTuning.Opened first = RouteTuning.open(glow, InferenceSettings.TUNED);
            first.pass().close();
            assertThat(first.routes()).contains("tuned in");
            List<Path> files;
            try (var list = Files.list(cache)) {
                files = list.filter(p -> p.getFileName().toString().startsWith("routes-")).toList();
            }
            assertThat(files).hasSize(1);
            RouteTuning.Cached cached = dev.glowserve.artifact.ModelArtifact.JSON.readValue(Files.readAllBytes(files.get(0)),
                    RouteTuning.Cached.class);
            assertThat(cached.measuredFor()).contains("hiddenChannels=32").contains("threads=");
            assertThat(cached.result().trials()).isNotEmpty();

            RouteTuning.Opened second = RouteTuning.open(glow, InferenceSettings.TUNED);
            second.pass().close();
            assertThat(second.routes()).endsWith("cached tuning").startsWith(cached.result().describe());

            RouteTuning.Opened fromFile = RouteTuning.open(glow, new InferenceSettings(true, true, files.get(0).toString()));
            fromFile.pass().close();
            assertThat(fromFile.routes()).isEqualTo(cached.result().describe() + ", from " + files.get(0).getFileName());
            assertThat(fromFile.pass().name()).isEqualTo(cached.result().pass());

            // another architecture's tuning is refused, naming the file only
            try (Glow other = FlowTestSupport.perturbedModel(new GlowConfig(1, 28, 28, 2, 2, 32, true, true, 0),
                    DataType.FLOAT32, 3, 0.02)) {
                assertThatThrownBy(() -> RouteTuning.open(other, new InferenceSettings(true, true, files.get(0).toString())))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining(files.get(0).getFileName().toString())
                        .hasMessageContaining("another architecture")
                        .hasMessageNotContaining(cache.toString());
            }
        }
    }

    @Test
    void aFileThatIsNotATuningIsRefusedWithoutItsContent() throws Exception {
        Path bad = cache.resolve("secret.json");
        Files.writeString(bad, "{\"password\": \"hunter2\"}");
        Path huge = cache.resolve("huge.json");
        Files.write(huge, new byte[(1 << 20) + 1]);
        try (Glow glow = FlowTestSupport.perturbedModel(CONFIG, DataType.FLOAT32, 3, 0.02)) {
            for (Path p : List.of(bad, huge, cache.resolve("missing.json"))) {
                assertThatThrownBy(() -> RouteTuning.open(glow, new InferenceSettings(true, true, p.toString())))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining(p.getFileName().toString())
                        .hasMessageNotContaining("hunter2")
                        .hasMessageNotContaining(cache.toString());
            }
        }
    }

    @Test
    void aLoadRefusedAfterItsTuningChildStartedLeavesNoChildRunning() throws Exception {
        Path broken = dev.glowserve.api.TestModels.truncatedVersion(cache.resolve("repo"), "tiny", "1");
        assertThatThrownBy(() -> ModelLoader.open(dev.glowserve.artifact.ArtifactSource.parse(broken.toString()),
                ai.djl.Device.cpu(), 64, InferenceSettings.TUNED, 1L << 30))
                .isInstanceOf(dev.glowserve.artifact.ArtifactException.class);
        // the child was started before the weights were read, and stopped when they were refused
        assertThat(ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                .filter(c -> c.info().commandLine().orElse("").contains("tune-routes")
                        || c.info().commandLine().orElse("").contains(RouteTuning.class.getName())))
                .isEmpty();
        try (var list = Files.list(cache)) {
            assertThat(list.filter(p -> p.getFileName().toString().startsWith("routes-"))).isEmpty();
        }
    }

    @Test
    void offKeepsTheUntunedTable() throws Exception {
        try (Glow glow = FlowTestSupport.perturbedModel(CONFIG, DataType.FLOAT32, 3, 0.02)) {
            RouteTuning.Opened off = RouteTuning.open(glow, InferenceSettings.DEFAULT);
            off.pass().close();
            assertThat(off.routes()).isEqualTo("torchscript+onednn, untuned routes");
            try (var list = Files.list(cache)) {
                assertThat(list.toList()).isEmpty();
            }
        }
    }
}
