package dev.glowserve.train;

import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.cli.GlowServe;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The permutation ablation's command kept working: one seed, two variants, a few hundred steps of a small model on
 * Fashion-MNIST, scored mid-bin and dequantised; run again, it keeps the finished runs. Under CI (CI=true) missing
 * data fails the test.
 */
class AblationCommandTest {

    @TempDir
    Path tmp;

    @Test
    void aShortAblationMakesItsTableAndCurvesAndResumes() throws Exception {
        boolean present = Files.isDirectory(dev.glowserve.data.Datasets.FASHION_MNIST);
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            assertThat(present).as("CI needs Fashion-MNIST (.ci/run installs it)").isTrue();
        }
        Assumptions.assumeTrue(present, "Fashion-MNIST missing");
        String[] args = {"ablation", "--out", tmp.toString(), "--permutations", "reverse,conv-lu", "--couplings", "affine", "--seeds", "1",
                "--steps", "200", "-K", "2", "--hidden", "16", "--eval-every", "50", "--eval-images", "100", "--test-images", "300",
                "--draws", "2", "--train-limit", "4000"};
        String first = run(args);
        assertThat(first).contains("| reverse / affine | 1 |").contains("| conv-lu / affine | 1 |");
        for (String run : new String[] {"reverse-affine-s1", "conv-lu-affine-s1"}) {
            JsonNode r = ModelArtifact.JSON.readTree(tmp.resolve(run).resolve("result.json").toFile());
            assertThat(r.get("steps").asLong()).isEqualTo(200);
            assertThat(r.get("testImages").asInt()).isEqualTo(300);
            assertThat(r.get("dequantizedBitsPerDim").asDouble()).isBetween(1.0, 9.0);
            assertThat(r.get("dequantizedStandardError").asDouble()).isPositive();
            assertThat(Ablation.curve(tmp.resolve(run))).hasSize(4); // evals at steps 50, 100, 150, 200
            assertThat(Files.readString(tmp.resolve(run).resolve("model").resolve("manifest.json")))
                    .contains(run.startsWith("reverse") ? "\"permutation\" : \"reverse\"" : "\"lu\" : true");
        }
        for (String png : new String[] {"curves-steps.png", "curves-seconds.png"}) {
            assertThat(dev.glowserve.data.Png.looksLikePng(Files.readAllBytes(tmp.resolve(png)))).isTrue();
        }
        long modified = Files.getLastModifiedTime(tmp.resolve("reverse-affine-s1").resolve("result.json")).toMillis();
        String again = run(args);
        assertThat(again).isEqualTo(first);
        assertThat(Files.getLastModifiedTime(tmp.resolve("reverse-affine-s1").resolve("result.json")).toMillis())
                .as("a finished run is kept, not run again").isEqualTo(modified);
    }

    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true));
            assertThat(GlowServe.commandLine().execute(args)).isZero();
        } finally {
            System.setOut(old);
        }
        return out.toString();
    }
}
