package dev.glowserve.api;

import dev.glowserve.GlowServeApplication;
import dev.glowserve.serving.StartupFailureAnalyzer;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** API key (from a mounted secret file), open probes, CORS, and GPU selection on a CPU machine. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SecurityTest {

    static final HttpClient HTTP = HttpClient.newHttpClient();

    @LocalServerPort
    int port;

    @org.springframework.boot.test.web.server.LocalManagementPort
    int managementPort;

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws Exception {
        Path secret = Files.createTempFile("api-key", ".txt");
        Files.writeString(secret, "s3cret-key\n"); // as a Kubernetes Secret volume holds it
        r.add("glow.models[0].path", TestModels::peer);
        r.add("glow.security.api-key-file", secret::toString);
        r.add("glow.security.cors-allowed-origins", () -> "https://app.example");
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder sample() {
        return HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/models/peer-tiny/sample"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"n\":1,\"seed\":1}"));
    }

    @Test
    void apiKeyGuardsTheApi() throws Exception {
        HttpResponse<String> none = send(sample());
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/problem+json"));
        assertThat(none.body()).contains("\"status\":401").contains("API key is required");
        assertThat(send(sample().header("X-API-Key", "wrong")).statusCode()).isEqualTo(401);
        assertThat(send(sample().header("X-API-Key", "s3cret-key")).statusCode()).isEqualTo(200);
        assertThat(send(sample().header("Authorization", "Bearer s3cret-key")).statusCode()).isEqualTo(200);
        assertThat(send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/models"))).statusCode()).isEqualTo(401);
    }

    @Test
    void apiKeyGuardsTheV2ProtocolButNotItsHealthProbes() throws Exception {
        String base = "http://localhost:" + port;
        HttpRequest.Builder infer = HttpRequest.newBuilder(URI.create(base + "/v2/models/peer-tiny-sample/infer"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5]}]}"));
        HttpResponse<String> none = send(infer.copy());
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        assertThat(none.body()).startsWith("{\"error\":").contains("API key");
        assertThat(send(infer.copy().header("X-API-Key", "s3cret-key")).statusCode()).isEqualTo(200);
        for (String p : new String[] {"/v2", "/v2/models/peer-tiny", "/v2/models/peer-tiny/ready"}) {
            assertThat(send(HttpRequest.newBuilder(URI.create(base + p))).statusCode()).as(p).isEqualTo(401);
        }
        HttpResponse<String> index = send(HttpRequest.newBuilder(URI.create(base + "/v2/repository/index"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        assertThat(index.statusCode()).isEqualTo(401);
        HttpResponse<String> load = send(HttpRequest.newBuilder(URI.create(base + "/v2/repository/models/peer-tiny/load"))
                .header("X-API-Key", "s3cret-key").POST(HttpRequest.BodyPublishers.noBody()));
        assertThat(load.statusCode()).as("past the key, the model control's own answer").isEqualTo(400);
        assertThat(load.body()).contains("glow.model-repository is not set");
        for (String p : new String[] {"/v2/health/live", "/v2/health/ready"}) {
            assertThat(send(HttpRequest.newBuilder(URI.create(base + p))).statusCode()).as(p).isEqualTo(200);
        }
    }

    @Test
    void probesStayOpenOnTheManagementPortAndOnlyThreeActuatorEndpointsExist() throws Exception {
        for (String p : new String[] {"/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness",
                "/actuator/info", "/actuator/prometheus"}) {
            assertThat(send(HttpRequest.newBuilder(URI.create("http://localhost:" + managementPort + p))).statusCode()).as(p)
                    .isEqualTo(200);
            assertThat(send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + p))).statusCode()).as(p + " on the API port")
                    .isEqualTo(404);
        }
        for (String p : new String[] {"/actuator/env", "/actuator/heapdump", "/actuator/beans", "/actuator/threaddump",
                "/actuator/configprops", "/actuator/loggers", "/actuator/shutdown"}) {
            assertThat(send(HttpRequest.newBuilder(URI.create("http://localhost:" + managementPort + p))).statusCode()).as(p)
                    .isEqualTo(404);
        }
    }

    @Test
    void corsAllowsOnlyConfiguredOrigins() throws Exception {
        HttpRequest.Builder preflight = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/models/peer-tiny/sample"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type,x-api-key");
        HttpResponse<String> ok = send(preflight.copy().header("Origin", "https://app.example"));
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.headers().firstValue("Access-Control-Allow-Origin")).contains("https://app.example");
        HttpResponse<String> v2 = send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v2/models/peer-tiny/infer"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", "https://app.example")
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type,inference-header-content-length"));
        assertThat(v2.statusCode()).isEqualTo(200);
        assertThat(v2.headers().firstValue("Access-Control-Allow-Origin")).contains("https://app.example");
        HttpResponse<String> other = send(preflight.copy().header("Origin", "https://evil.example"));
        assertThat(other.statusCode()).isEqualTo(403);
        assertThat(other.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    }

    @Test
    void aGpuThatIsNotThereFailsStartUpWithOneClearLine() {
        assertThatThrownBy(() -> new SpringApplicationBuilder(GlowServeApplication.class)
                .run("--glow.device=gpu", "--server.port=0", "--glow.models[0].path=" + TestModels.peer())).satisfies(e -> {
            FailureAnalysis a = new StartupFailureAnalyzer().analyze(e);
            assertThat(a).isNotNull();
            assertThat(a.getDescription()).startsWith("glow.device=gpu but the PyTorch engine reports 0 GPUs").doesNotContain("\n");
        });
        assertThatThrownBy(() -> new SpringApplicationBuilder(GlowServeApplication.class)
                .run("--glow.device=cpu", "--server.port=0", "--glow.models[0].path=/nonexistent/model")).satisfies(e -> {
            FailureAnalysis a = new StartupFailureAnalyzer().analyze(e);
            assertThat(a).isNotNull();
            assertThat(a.getDescription()).startsWith("model at /nonexistent/model failed to load: ").contains("manifest.json")
                    .doesNotContain("\n");
        });
    }
}
