package dev.glowserve.train;

import ai.djl.Device;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.cli.GlowServe;
import dev.glowserve.data.Png;
import dev.glowserve.runtime.ModelLoader;
import dev.glowserve.runtime.ModelRunner;
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
        dev.glowserve.cli.TrainCommand.recordInvocation(args);
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
            // out-of-distribution calibration on the second half of the final test images, the first half left for ood-eval
            dev.glowserve.artifact.Calibration c = r.calibration();
            assertThat(c).isNotNull();
            assertThat(c.images()).isEqualTo(150);
            assertThat(c.source()).endsWith("images 150..299");
            assertThat(c.compressor()).isEqualTo("png-up");
            assertThat(c.scores().keySet()).containsExactly("complexity", "likelihood", "typicality", "upside-down", "orientation");
            double[] bpd = c.sorted("likelihood");
            assertThat(c.meanBitsPerDim()).isBetween(bpd[0], bpd[bpd.length - 1]);
        }
    }

    @Test
    void continuedTrainingWithAWeightAverageShipsAnExactlyInvertibleModel() throws Exception {
        Path first = tmp.resolve("first");
        Path second = tmp.resolve("second");
        String[] common = {"-K", "2", "--hidden", "16", "--batch", "32", "--warmup", "2", "--train-limit", "512",
                "--eval-images", "100", "--final-eval-images", "100"};
        assertThat(train(first, common, "--steps", "6", "--ema", "0", "--eval-every", "0")).isZero();
        assertThat(train(second, common, "--steps", "6", "--ema", "0.9", "--eval-every", "3", "--init",
                first.resolve("model").toString())).isZero();
        assertThat(readLog(second)).contains("\"ema_test_bpd\"");
        Manifest m = ModelArtifact.readManifest(second.resolve("model"));
        try (ModelRunner shipped = ModelLoader.open(second.resolve("model").toString(), Device.cpu(), 64)) {
            var test = dev.glowserve.data.Datasets.load(dev.glowserve.data.Datasets.FASHION_MNIST,
                    dev.glowserve.data.Datasets.Split.TEST).head(100);
            java.util.List<byte[]> images = new java.util.ArrayList<>();
            for (int i = 0; i < test.count(); i++) {
                images.add(test.image(i));
            }
            java.util.List<ModelRunner.Encoded> enc = shipped.encode(images, null);
            double mean = enc.stream().mapToDouble(e -> e.score().bitsPerDim()).average().orElseThrow();
            assertThat(mean).as("the manifest's figure is the shipped (averaged) weights' score")
                    .isCloseTo(m.testBitsPerDim(), org.assertj.core.data.Offset.offset(1e-4));
            java.util.List<byte[]> back = shipped.decode(enc.stream().map(ModelRunner.Encoded::eps).toList(), null);
            for (int i = 0; i < images.size(); i++) {
                assertThat(back.get(i)).as("decode(encode(x)) of test image " + i).containsExactly(images.get(i));
            }
        }
        StringWriter err = new StringWriter();
        assertThat(GlowServe.commandLine().setErr(new PrintWriter(err)).execute("train", "--out", tmp.resolve("x").toString(),
                "--steps", "1", "--resume", "--init", first.resolve("model").toString())).isNotZero();
        assertThat(err.toString()).contains("give one of them");
    }

    private static int train(Path out, String[] common, String... extra) {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--out", out.toString()));
        args.addAll(java.util.List.of(common));
        args.addAll(java.util.List.of(extra));
        String threads = System.getProperty("ai.djl.pytorch.num_threads");
        try {
            return GlowServe.commandLine().setErr(new PrintWriter(new StringWriter())).execute(args.toArray(new String[0]));
        } finally {
            if (threads == null) {
                System.clearProperty("ai.djl.pytorch.num_threads");
            } else {
                System.setProperty("ai.djl.pytorch.num_threads", threads);
            }
        }
    }

    private static String readLog(Path dir) throws java.io.IOException {
        return Files.readString(dir.resolve("train.jsonl"));
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
