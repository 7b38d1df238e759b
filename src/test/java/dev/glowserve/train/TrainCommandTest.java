package dev.glowserve.train;

import ai.djl.Device;
import dev.glowserve.GlowServe;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.Png;
import dev.glowserve.inference.ModelLoader;
import dev.glowserve.inference.ModelRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `glow-serve train` end to end: curves, samples, reconstructions and a servable artifact. */
class TrainCommandTest {

    @TempDir
    Path tmp;

    @Test
    void trainWritesAnArtifactPlotsAndSamples() throws Exception {
        String[] args = {"train", "--out", tmp.toString(), "--name", "mini", "--conditional", "-K", "2", "--hidden", "16",
                "--steps", "30", "--batch", "32", "--warmup", "5", "--train-limit", "1024", "--eval-every", "15",
                "--eval-images", "200", "--final-eval-images", "300", "--checkpoint-every", "10"};
        TrainCommand.recordInvocation(args);
        StringWriter err = new StringWriter();
        String threads = System.getProperty("ai.djl.pytorch.num_threads");
        int code;
        try {
            code = GlowServe.commandLine().setErr(new PrintWriter(err)).execute(args);
        } finally { // the command sets the engine's threads for its workers; leave other tests as they were
            if (threads == null) {
                System.clearProperty("ai.djl.pytorch.num_threads");
            } else {
                System.setProperty("ai.djl.pytorch.num_threads", threads);
            }
        }
        assertThat(code).as(err.toString()).isZero();
        for (String f : new String[] {"train.jsonl", "checkpoint.safetensors", "bpd.png", "samples.png", "reconstructions.png",
                "model/manifest.json", "model/weights.safetensors", "model/class_means.safetensors"}) {
            assertThat(tmp.resolve(f)).as(f).exists();
        }
        Manifest m = ModelArtifact.readManifest(tmp.resolve("model"));
        assertThat(m.name()).isEqualTo("mini");
        assertThat(m.testBitsPerDim()).isBetween(1.0, 9.0);
        assertThat(m.testBitsPerDimQuantiles()).containsKeys("p1", "p50", "p99");
        assertThat(m.training().steps()).isEqualTo(30);
        assertThat(m.training().command()).startsWith("glow-serve train --out").contains("--steps 30");
        assertThat(m.classNames()).hasSize(10).contains("Sneaker");
        assertThat(m.dataset()).isEqualTo("fashion-mnist");
        // one row of samples per class, ten per row
        Png.Image grid = Png.decode(Files.readAllBytes(tmp.resolve("samples.png")), 1 << 20);
        assertThat(grid.height()).isEqualTo(10 * 29 + 1);
        assertThat(grid.width()).isEqualTo(10 * 29 + 1);
        try (ModelRunner r = ModelLoader.open(tmp.resolve("model").toString(), Device.cpu(), 64)) {
            assertThat(r.hasMeasuredClassMeans()).isTrue();
            assertThat(r.config().numClasses()).isEqualTo(10);
        }
    }

    @Test
    void negativeWorkersAreRefused() {
        StringWriter err = new StringWriter();
        int code = GlowServe.commandLine().setErr(new PrintWriter(err))
                .execute("train", "--out", tmp.toString(), "--steps", "1", "--workers", "-1");
        assertThat(code).isNotZero();
        assertThat(err.toString()).contains("--workers must be 0 (auto) or more");
    }
}
