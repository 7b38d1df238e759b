package dev.glowserve.api;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.test.context.SpringBootTest;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/API.md's Python example (docs/examples/v2_client.py, standard library only) run against the service: it samples,
 * scores with binary tensors and round-trips encode/decode, on a class-conditional and an unconditional model. Under
 * CI (CI=true) a missing python3 fails the test.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class V2PythonClientTest extends ApiTestBase {

    static boolean pythonPresent() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (new File(dir, "python3").canExecute()) {
                return true;
            }
        }
        return false;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "peer"})
    void theReadmesPythonClientSamplesScoresAndRoundTrips(String model) throws Exception {
        boolean present = pythonPresent();
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            assertThat(present).as("CI needs python3 (.ci/run installs it)").isTrue();
        }
        Assumptions.assumeTrue(present, "python3 not installed");
        Process p = new ProcessBuilder("python3", "docs/examples/v2_client.py", "--url", "http://localhost:" + port, "--model", model,
                "--n", "3").redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("sampled [3, 1, 28, 28]").containsPattern("bits/dim \\d+\\.\\d{4} \\d+\\.\\d{4} \\d+\\.\\d{4}\\n")
                .contains("decode(encode(x)) == x: True");
        // the same bits/dim as the server's own answer for those samples
        String bits = out.replaceAll("(?s).*bits/dim ([0-9. ]+)\\n.*", "$1");
        var v1 = post("/v1/models/" + model + "/sample", java.util.Map.of("n", 3, "temperature", 0.7, "seed", 1)).json();
        var images = new java.util.ArrayList<String>();
        v1.get("images").forEach(i -> images.add(i.get("png").asString()));
        var scores = post("/v1/models/" + model + "/log-likelihood", java.util.Map.of("images", images)).json().get("results");
        String want = String.format(java.util.Locale.ROOT, "%.4f %.4f %.4f", scores.get(0).get("bits_per_dim").asDouble(),
                scores.get(1).get("bits_per_dim").asDouble(), scores.get(2).get("bits_per_dim").asDouble());
        assertThat(bits.trim()).isEqualTo(want);
    }
}
