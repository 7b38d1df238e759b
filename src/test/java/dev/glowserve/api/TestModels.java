package dev.glowserve.api;

import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.flow.FlowTestSupport;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Small artifacts written once per test JVM: a class-conditional model, the peer fixture, and a broken one. */
public final class TestModels {

    public static final GlowConfig TINY = new GlowConfig(1, 28, 28, 2, 2, 16, true, true, 4);
    private static Path root;

    private TestModels() {}

    public static synchronized Path root() {
        if (root == null) {
            try {
                root = Files.createTempDirectory("glow-test-models");
                Path tiny = root.resolve("tiny");
                try (Glow glow = FlowTestSupport.perturbedModel(TINY, DataType.FLOAT32, 17, 0.05)) {
                    ModelArtifact.save(tiny, new Manifest("tiny", "3", Architecture.of(TINY), 8, "synthetic",
                            List.of("zero", "one", "two", "three"), 4.5, java.util.Map.of("p1", 3.9, "p5", 4.1, "p10", 4.2,
                            "p25", 4.35, "p50", 4.5, "p75", 4.65, "p90", 4.8, "p95", 4.9, "p99", 5.1), null), glow);
                }
                calibrate(tiny);
                Path broken = root.resolve("broken");
                Files.createDirectories(broken);
                Files.writeString(broken.resolve("manifest.json"), "{\"name\": \"broken\"}");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return root;
    }

    /** Smooth images (a bright blob on a dark ground), the tiny model's stand-in for its training data. */
    public static byte[] blob(long seed) {
        java.util.Random r = new java.util.Random(seed);
        double cx = 8 + 12 * r.nextDouble(), cy = 8 + 12 * r.nextDouble(), radius = 3 + 5 * r.nextDouble();
        double level = 120 + 120 * r.nextDouble();
        byte[] px = new byte[784];
        for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
                double d2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (radius * radius);
                px[y * 28 + x] = (byte) Math.min(255, Math.round(level * Math.exp(-d2) + 4 * r.nextDouble()));
            }
        }
        return px;
    }

    /** Calibrates a tiny model's out-of-distribution answers on 300 blobs. */
    static void calibrate(Path model) throws IOException {
        byte[] all = new byte[300 * 784];
        for (int i = 0; i < 300; i++) {
            System.arraycopy(blob(1000 + i), 0, all, i * 784, 784);
        }
        dev.glowserve.data.ImageSet held = new dev.glowserve.data.ImageSet(all, 300, 1, 28, 28, null, null, "300 blobs");
        try (dev.glowserve.runtime.ModelRunner runner = dev.glowserve.runtime.ModelLoader.open(model.toString(),
                ai.djl.Device.cpu(), 64)) {
            dev.glowserve.ood.OodScores.calibrate(held.source(), dev.glowserve.ood.OodScores.of(runner, held,
                    dev.glowserve.ood.Complexity.PNG_UP, true, n -> { }), dev.glowserve.ood.Complexity.PNG_UP).write(model);
        }
    }

    /** Writes a tiny model version into a Triton-layout repository: {@code repo/name/version}; seeds give distinct weights. */
    public static Path version(Path repo, String name, String version, long seed) {
        Path dir = repo.resolve(name).resolve(version);
        try (Glow glow = FlowTestSupport.perturbedModel(TINY, DataType.FLOAT32, seed, 0.05)) {
            ModelArtifact.save(dir, new Manifest(name, version, Architecture.of(TINY), 8, "synthetic",
                    List.of("zero", "one", "two", "three"), 4.5, null, null), glow);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** A version whose weights file was cut short, as an interrupted copy leaves it. */
    public static Path truncatedVersion(Path repo, String name, String version) {
        Path dir = version(repo, name, version, 99);
        try {
            Path weights = dir.resolve(ModelArtifact.WEIGHTS);
            byte[] all = Files.readAllBytes(weights);
            Files.write(weights, java.util.Arrays.copyOf(all, all.length / 2));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** A version whose manifest describes another architecture (wider coupling networks) than its weights hold. */
    public static Path mismatchedVersion(Path repo, String name, String version) {
        return versionClaiming(repo, name, version, new GlowConfig(1, 28, 28, 2, 2, 32, true, true, 4));
    }

    /** A tiny model's weights under a manifest that claims {@code claimed} for its architecture. */
    public static Path versionClaiming(Path repo, String name, String version, GlowConfig claimed) {
        Path dir = version(repo, name, version, 98);
        try {
            Files.write(dir.resolve(ModelArtifact.MANIFEST), ModelArtifact.JSON.writeValueAsBytes(new Manifest(name, version,
                    Architecture.of(claimed), 8, "synthetic", claimed.conditional() ? List.of("zero", "one", "two", "three") : null,
                    4.5, null, null)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    public static String tiny() {
        return root().resolve("tiny").toString();
    }

    public static String broken() {
        return root().resolve("broken").toString();
    }

    public static String peer() {
        return Path.of("src/test/resources/fixtures/peer-tiny").toAbsolutePath().toString();
    }
}
