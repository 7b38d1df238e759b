package dev.glowserve.cli;

import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.Png;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The jar's commands, run in-process as the jar runs them. */
class CommandLineTest {

    static final String PEER = "src/test/resources/fixtures/peer-tiny";

    @TempDir
    Path tmp;

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(out, true));
            CommandLine cli = GlowServe.commandLine();
            cli.setOut(new PrintWriter(out, true));
            cli.setErr(new PrintWriter(err, true));
            int code = cli.execute(args);
            return new Run(code, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
        }
    }

    /** A model folder, or the shipped model, laid out as the next version of a repository model, whole. */
    @Test
    void repositoryAddsAModelAsItsNextVersion() throws Exception {
        Path repo = tmp.resolve("models");
        Run first = run("repository", "--repo", repo.toString());
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("model 'fashion-mnist' version 1: ");
        assertThat(repo.resolve("fashion-mnist/1")).isDirectory();
        for (String f : new String[] {"manifest.json", "weights.safetensors", "class_means.safetensors", "calibration.json"}) {
            assertThat(repo.resolve("fashion-mnist/1").resolve(f)).isRegularFile();
        }
        Run peer = run("repository", "--model", PEER, "--repo", repo.toString(), "--name", "fashion-mnist");
        assertThat(peer.code()).as(peer.err()).isZero();
        assertThat(peer.out()).contains("model 'fashion-mnist' version 2: ");
        assertThat(Files.readAllBytes(repo.resolve("fashion-mnist/2/weights.safetensors")))
                .isEqualTo(Files.readAllBytes(Path.of(PEER, "weights.safetensors")));
        Run taken = run("repository", "--model", PEER, "--repo", repo.toString(), "--name", "fashion-mnist", "--model-version", "2");
        assertThat(taken.code()).isNotZero();
        assertThat(taken.err()).contains("version 2 of 'fashion-mnist' is in the repository already");
        Run broken = run("repository", "--model", tmp.toString(), "--repo", repo.toString());
        assertThat(broken.code()).isNotZero();
        assertThat(broken.err()).contains("manifest.json");
        try (var left = Files.list(repo.resolve("fashion-mnist"))) {
            assertThat(left.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("1", "2");
        }
    }

    /** Spring Boot's failure report says what to fix; no stack trace follows it. */
    @Test
    void aMissingGpuStopsServeWithTheReportAndNoStackTrace() {
        Run r = run("serve", "--glow.device=gpu", "--server.port=0", "--management.server.port=0",
                "--glow.models[0].path=" + PEER);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).as("what picocli printed").isEmpty();
    }

    /** {@code --help} is read before anything starts, and says nothing but the help (no warning of its own). */
    @Test
    void helpPrintsOnlyTheHelp() {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(stderr, true)); // picocli's own warnings go there
            for (String command : new String[] {"ood-eval", "score", "serve", "train", "bench"}) {
                Run r = run(command, "--help");
                assertThat(r.code()).isZero();
                assertThat(r.out()).as(command).startsWith("Usage: glow-serve " + command).doesNotContain("WARN");
                assertThat(r.err()).as(command).doesNotContain("WARN");
            }
        } finally {
            System.setErr(oldErr);
        }
        assertThat(stderr.toString()).doesNotContain("WARN");
    }

    @Test
    void serveStopsAtOnceWhenItsTemporaryFolderIsNotWritable() {
        String before = System.getProperty("java.io.tmpdir");
        try {
            assertThat(ServeCommand.unwritableTmpDir()).isNull();
            Path missing = tmp.resolve("not-mounted");
            System.setProperty("java.io.tmpdir", missing.toString());
            assertThat(ServeCommand.unwritableTmpDir()).startsWith("java.io.tmpdir=" + missing + " is not writable (")
                    .contains("emptyDir").doesNotContain("\n");
        } finally {
            System.setProperty("java.io.tmpdir", before);
        }
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"serve", "score", "sample", "bench", "train"}) {
            Run r = run(cmd, "--help");
            assertThat(r.code()).as(cmd).isZero();
            assertThat(r.out()).as(cmd).contains("Usage: glow-serve " + cmd);
        }
        assertThat(run("--help").out()).contains("score").contains("sample").contains("bench").contains("train").contains("serve");
    }

    @Test
    void benchSplitsBatchesAcrossWorkersAndReportsEveryBatchSize() {
        String threads = System.getProperty("ai.djl.pytorch.num_threads");
        try {
            Run r = run("bench", "-K", "1", "-L", "1", "--hidden", "8", "--batches", "1,6", "--seconds", "0.01", "--workers", "2");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).contains("2 worker(s)").contains("2 matMuls side by side");
            for (String batch : new String[] {"| 1 |", "| 6 |"}) {
                String row = r.out().lines().filter(l -> l.startsWith(batch)).findFirst().orElseThrow();
                double encodeImgPerSec = Double.parseDouble(row.split("\\|")[2].trim());
                assertThat(encodeImgPerSec).as(row).isPositive();
            }
            assertThat(run("bench", "--workers", "0").code()).isNotZero();
            // one worker: batches of 32 and more in chunks on one single-threaded lane per core
            Run lanes = run("bench", "-K", "1", "-L", "1", "--hidden", "8", "--batches", "1,40", "--seconds", "0.01", "--no-passes");
            assertThat(lanes.code()).as(lanes.err()).isZero();
            if (Runtime.getRuntime().availableProcessors() >= 2) {
                assertThat(lanes.out()).contains("larger ones in chunks of 16 on").contains("matMuls side by side on the lanes");
            }
            assertThat(lanes.out().lines().filter(l -> l.startsWith("| 40 |")).count()).isEqualTo(1);
            // with the passes compared (the default), a second table holds each batch once more, with the choice's ratio
            assertThat(r.out()).contains("chosen ÷ best").contains("routes: ");
            assertThat(r.out().lines().filter(l -> l.startsWith("| 6 |")).count()).isEqualTo(2);
            assertThat(run("bench", "-K", "1", "-L", "1", "--hidden", "8", "--batches", "40", "--seconds", "0.01", "--no-lanes").out())
                    .contains("threads per pass, 1 worker(s)").doesNotContain("lanes");
        } finally {
            if (threads != null) {
                System.setProperty("ai.djl.pytorch.num_threads", threads);
            }
        }
    }

    @Test
    void scorePrintsJsonThatMatchesThePeerReference() throws Exception {
        JsonNode ref = ModelArtifact.JSON.readTree(Path.of(PEER, "reference.json").toFile());
        Path a = tmp.resolve("a.png");
        Path b = tmp.resolve("b.png");
        for (int i = 0; i < 2; i++) {
            byte[] px = new byte[784];
            for (int p = 0; p < 784; p++) {
                px[p] = (byte) ref.get("images_u8").get(i).get(p).asInt();
            }
            Files.write(i == 0 ? a : b, Png.encode(px, 1, 28, 28));
        }
        Run r = run("score", "--model", PEER, a.toString(), b.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode json = ModelArtifact.JSON.readTree(r.out());
        assertThat(json.get("images")).hasSize(2);
        for (int i = 0; i < 2; i++) {
            double want = ref.get("log_p_nats").get(i).asDouble();
            assertThat(json.get("images").get(i).get("log_p_nats").asDouble()).isCloseTo(want, within(Math.abs(want) * 1e-4));
            assertThat(json.get("images").get(i).get("bits_per_dim").asDouble()).isCloseTo(ref.get("bits_per_dim").get(i).asDouble(), within(1e-3));
        }
        double mean = (json.get("images").get(0).get("bits_per_dim").asDouble() + json.get("images").get(1).get("bits_per_dim").asDouble()) / 2;
        assertThat(json.get("mean_bits_per_dim").asDouble()).isCloseTo(mean, within(1e-9));
    }

    @Test
    void scoreReadsIdxWithALimit() throws Exception {
        Path idx = Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
        Run r = run("score", "--model", PEER, "--idx", idx.toString(), "--limit", "5");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode json = ModelArtifact.JSON.readTree(r.out());
        assertThat(json.get("images")).hasSize(5);
        JsonNode ref = ModelArtifact.JSON.readTree(Path.of(PEER, "reference.json").toFile());
        // test image 0 is the reference's first image
        assertThat(json.get("images").get(0).get("log_p_nats").asDouble())
                .isCloseTo(ref.get("log_p_nats").get(0).asDouble(), within(1.0));
    }

    @Test
    void scoreDequantizedIsSeededBoundsTheMidBinAndIsRecorded() throws Exception {
        Path idx = Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
        Path model = tmp.resolve("deq-model");
        Files.createDirectories(model);
        for (String f : new String[] {"manifest.json", "weights.safetensors"}) {
            Files.copy(Path.of(PEER, f), model.resolve(f));
        }
        Run a = run("score", "--model", model.toString(), "--idx", idx.toString(), "--limit", "6", "--dequantize", "3", "--seed", "7");
        assertThat(a.code()).as(a.err()).isZero();
        JsonNode ja = ModelArtifact.JSON.readTree(a.out());
        JsonNode d = ja.get("dequantized");
        assertThat(d.get("draws").asInt()).isEqualTo(3);
        double mean = 0;
        for (JsonNode image : ja.get("images")) {
            // uniform noise in each bin instead of its midpoint: a different, nearby figure for every image
            assertThat(image.get("bits_per_dim_dequantized").asDouble()).isNotEqualTo(image.get("bits_per_dim").asDouble())
                    .isCloseTo(image.get("bits_per_dim").asDouble(), within(1.0));
            mean += image.get("bits_per_dim_dequantized").asDouble() / 6;
        }
        assertThat(d.get("mean_bits_per_dim").asDouble()).isCloseTo(mean, within(1e-9));
        assertThat(d.get("standard_error").asDouble()).isPositive();
        Run again = run("score", "--model", model.toString(), "--idx", idx.toString(), "--limit", "6", "--dequantize", "3", "--seed",
                "7", "--record");
        assertThat(ModelArtifact.JSON.readTree(again.out()).get("dequantized").get("mean_bits_per_dim").asDouble())
                .as("the same seed, the same noise").isEqualTo(d.get("mean_bits_per_dim").asDouble());
        Run other = run("score", "--model", model.toString(), "--idx", idx.toString(), "--limit", "6", "--dequantize", "3", "--seed", "8");
        assertThat(ModelArtifact.JSON.readTree(other.out()).get("dequantized").get("mean_bits_per_dim").asDouble())
                .isNotEqualTo(d.get("mean_bits_per_dim").asDouble());
        JsonNode recorded = ModelArtifact.JSON.readTree(model.resolve("manifest.json").toFile()).get("test_bits_per_dim_dequantized");
        assertThat(recorded.get("mean").asDouble()).isEqualTo(d.get("mean_bits_per_dim").asDouble());
        assertThat(recorded.get("images").asInt()).isEqualTo(6);
        assertThat(recorded.get("command").asString()).contains("--dequantize 3 --seed 7");
        assertThat(run("score", "--model", PEER, "--idx", idx.toString(), "--limit", "2", "--record").code()).isNotZero();
    }

    @Test
    void benchLogdetPrintsTheTableAndPlotsIt() throws Exception {
        Path plot = tmp.resolve("logdet.png");
        Run r = run("bench", "--logdet", "--seconds", "0.02", "--plot", plot.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("| channels | log|det| from s").contains("| 4 |").contains("| 512 |");
        assertThat(dev.glowserve.data.Png.looksLikePng(Files.readAllBytes(plot))).isTrue();
    }

    @Test
    void sampleWritesAGridAndIsRepeatable() throws Exception {
        Path out1 = tmp.resolve("g1.png");
        Path out2 = tmp.resolve("g2.png");
        assertThat(run("sample", "--model", PEER, "--n", "6", "--seed", "3", "--columns", "3", "--out", out1.toString()).code()).isZero();
        assertThat(run("sample", "--model", PEER, "--n", "6", "--seed", "3", "--columns", "3", "--out", out2.toString()).code()).isZero();
        Png.Image g = Png.decode(Files.readAllBytes(out1), 1 << 20);
        assertThat(g.width()).isEqualTo(3 * 28 + 4);
        assertThat(g.height()).isEqualTo(2 * 28 + 3);
        assertThat(Files.readAllBytes(out1)).isEqualTo(Files.readAllBytes(out2));
        Run bad = run("sample", "--model", PEER, "--class", "1", "--out", tmp.resolve("x.png").toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("unconditional");
    }

    @Test
    void badModelFolderSaysWhy() {
        Run r = run("score", "--model", tmp.toString(), "--idx", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("manifest.json").contains("missing");
    }
}
