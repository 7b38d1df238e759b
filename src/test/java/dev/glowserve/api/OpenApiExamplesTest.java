package dev.glowserve.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every example in openapi.yaml, sent as Swagger UI's "Try it out" sends it, against the shipped model: each answers
 * 200. Path parameters take their documented examples (each must have one); the repository's calls run last, against
 * a repository holding the shipped model as version 2, the unload last of all.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OpenApiExamplesTest extends HttpTestBase {

    static final Path REPO;

    static {
        try {
            REPO = Files.createTempDirectory("glow-examples");
            Path version = Files.createDirectories(REPO.resolve("fashion-mnist").resolve("2"));
            for (String f : List.of("manifest.json", "weights.safetensors", "class_means.safetensors", "calibration.json")) {
                try (InputStream in = OpenApiExamplesTest.class.getClassLoader().getResourceAsStream("models/fashion-mnist/" + f)) {
                    Files.copy(in, version.resolve(f));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void repository(DynamicPropertyRegistry r) {
        r.add("glow.model-repository", REPO::toString);
        r.add("glow.model-control", () -> "explicit");
    }

    /** One call the document describes: method, path with its parameters filled in, and the example body, if any. */
    record Call(String method, String path, String body, String what) {}

    @SuppressWarnings("unchecked")
    static List<Call> calls() throws IOException {
        Map<String, Object> doc = new Yaml().load(Files.readString(Path.of("openapi.yaml")));
        List<Call> calls = new ArrayList<>();
        for (var path : ((Map<String, Map<String, Object>>) doc.get("paths")).entrySet()) {
            for (var op : path.getValue().entrySet()) {
                if (!List.of("get", "post").contains(op.getKey())) {
                    continue;
                }
                Map<String, Object> operation = (Map<String, Object>) op.getValue();
                String url = path.getKey();
                for (Map<String, Object> p : (List<Map<String, Object>>) operation.getOrDefault("parameters", List.of())) {
                    if ("path".equals(p.get("in"))) {
                        assertThat(p.get("example")).as(op.getKey() + " " + path.getKey() + ": {" + p.get("name") + "} needs an example")
                                .isNotNull();
                        url = url.replace("{" + p.get("name") + "}", String.valueOf(p.get("example")));
                    }
                }
                String what = op.getKey().toUpperCase() + " " + path.getKey();
                Map<String, Object> body = (Map<String, Object>) operation.get("requestBody");
                Map<String, Object> json = body == null ? null
                        : (Map<String, Object>) ((Map<String, Object>) body.get("content")).get("application/json");
                if (json == null) {
                    calls.add(new Call(op.getKey(), url, null, what));
                    continue;
                }
                Map<String, Map<String, Object>> examples = (Map<String, Map<String, Object>>) json.get("examples");
                assertThat(examples).as(what + " takes a JSON body: it needs an example Swagger UI can send").isNotEmpty();
                for (var e : examples.entrySet()) {
                    Object value = e.getValue().get("value"); // JSON text, or the JSON itself as YAML
                    calls.add(new Call(op.getKey(), url, value instanceof String text ? text : JSON.writeValueAsString(value),
                            what + " (" + e.getKey() + ")"));
                }
            }
        }
        // the repository's calls last, unload last of all: it stops serving the model the others use
        calls.sort(Comparator.comparingInt(c -> c.path().contains("/unload") ? 2 : c.path().contains("/repository/") ? 1 : 0));
        return calls;
    }

    @Test
    void everyExampleInTheDocumentAnswers200() throws IOException {
        List<Call> calls = calls();
        assertThat(calls).hasSizeGreaterThan(15);
        for (Call c : calls) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri(c.path()));
            if (c.body() != null) {
                b.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(c.body()));
            } else {
                b.method(c.method().toUpperCase(), HttpRequest.BodyPublishers.noBody());
            }
            Reply r = send(b.build());
            assertThat(r.status()).as(c.what() + " -> " + r.text()).isEqualTo(200);
        }
    }

    @Test
    void theExamplePngsAreTheExamplesFolders() throws IOException {
        assertThat(Base64.getDecoder().decode(ApiExamples.SNEAKER)).isEqualTo(Files.readAllBytes(Path.of("docs/examples/sneaker.png")));
        assertThat(Base64.getDecoder().decode(ApiExamples.BOOT)).isEqualTo(Files.readAllBytes(Path.of("docs/examples/boot.png")));
    }
}
