package dev.glowserve.api;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.test.context.SpringBootTest;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An independent gRPC client: docs/examples/grpc_client.py, on Debian's grpcio and protobuf, its messages generated
 * from the service's .proto by Debian's protoc and its calls generic unary calls, with the API key as metadata. It
 * samples, scores and round-trips on a class-conditional and an unconditional model; its bits/dim are /v1's. Under
 * CI (CI=true) a missing python3-grpcio, python3-protobuf or protoc fails the test.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class GrpcPythonClientTest extends GrpcTestBase {

    /** Debian's python3, where python3-grpcio installs, before whatever python3 is first on PATH. */
    static String python() {
        return new File("/usr/bin/python3").canExecute() ? "/usr/bin/python3" : "python3";
    }

    static boolean clientPresent() {
        try {
            Process p = new ProcessBuilder(python(), "-c", "import grpc, google.protobuf").redirectErrorStream(true).start();
            boolean done = p.waitFor(30, TimeUnit.SECONDS);
            Process protoc = new ProcessBuilder("protoc", "--version").redirectErrorStream(true).start();
            return done && p.exitValue() == 0 && protoc.waitFor(30, TimeUnit.SECONDS) && protoc.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "peer"})
    void thePythonGrpcClientSamplesScoresAndRoundTrips(String model) throws Exception {
        boolean present = clientPresent();
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            assertThat(present).as("CI needs python3-grpcio, python3-protobuf and protobuf-compiler (.ci/run installs them)").isTrue();
        }
        Assumptions.assumeTrue(present, "python3-grpcio, python3-protobuf or protoc not installed");
        Process p = new ProcessBuilder(python(), "docs/examples/grpc_client.py", "--target", "localhost:" + GRPC_PORT, "--model", model,
                "--n", "3", "--api-key", KEY).redirectErrorStream(true).start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("live: True", "sampled [3, 1, 28, 28]", "decode(encode(x)) == x: True", "unknown model: NOT_FOUND")
                .containsPattern("bits/dim \\d+\\.\\d{4} \\d+\\.\\d{4} \\d+\\.\\d{4}\\n");
        String bits = out.replaceAll("(?s).*bits/dim ([0-9. ]+)\\n.*", "$1");
        var v1 = post("/v1/models/" + model + "/sample", Map.of("n", 3, "temperature", 0.7, "seed", 1)).json();
        var images = new java.util.ArrayList<String>();
        v1.get("images").forEach(i -> images.add(i.get("png").asString()));
        var scores = post("/v1/models/" + model + "/log-likelihood", Map.of("images", images)).json().get("results");
        String want = String.format(java.util.Locale.ROOT, "%.4f %.4f %.4f", scores.get(0).get("bits_per_dim").asDouble(),
                scores.get(1).get("bits_per_dim").asDouble(), scores.get(2).get("bits_per_dim").asDouble());
        assertThat(bits.trim()).isEqualTo(want);

        // without the key the same client is refused
        Process refused = new ProcessBuilder(python(), "docs/examples/grpc_client.py", "--target", "localhost:" + GRPC_PORT, "--model",
                model).redirectErrorStream(true).start();
        assertThat(refused.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(new String(refused.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).contains("UNAUTHENTICATED");
        assertThat(List.of(refused.exitValue())).doesNotContain(0);
    }
}
