package dev.glowserve.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Triton's model-repository extension over HTTP, with only a repository configured and explicit control: index,
 * load, unload, a bad version refused while the served one stays, and a version swapped in under 32 clients
 * without one failed request.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ModelRepositoryTest extends HttpTestBase {

    static final Path REPO;

    static {
        try {
            REPO = Files.createTempDirectory("glow-repository");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        TestModels.version(REPO, "digits", "1", 41);
        TestModels.version(REPO, "digits", "2", 42);
        TestModels.truncatedVersion(REPO, "digits", "3");
    }

    @DynamicPropertySource
    static void repository(DynamicPropertyRegistry r) {
        r.add("glow.models", () -> ""); // no configured models: the repository only
        r.add("glow.model-repository", REPO::toString);
        r.add("glow.model-control", () -> "explicit");
    }

    static final String IMAGE = "{\"inputs\":[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[1,1,28,28],\"data\":"
            + Arrays.toString(pixels(randomImage(7))) + "}]}";

    static int[] pixels(byte[] image) {
        int[] v = new int[image.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = image[i] & 0xff;
        }
        return v;
    }

    void ok(Reply r) {
        assertThat(r.status()).as(r.text()).isEqualTo(200);
    }

    void error(Reply r, int status, String contains) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.json().propertyNames()).containsExactly("error");
        assertThat(r.json().get("error").asString()).contains(contains);
    }

    Reply load(String body) {
        return post("/v2/repository/models/digits/load", body);
    }

    /** Serves version 1, whatever an earlier test left. */
    void serveVersionOne() {
        ok(load("{\"parameters\":{\"version\":\"1\"}}"));
    }

    @Test
    void indexLoadAndUnload() {
        post("/v2/repository/models/digits/unload", "");
        JsonNode index = post("/v2/repository/index", "{}").json();
        // version 3's reason is "unloaded", or why it failed to load if an earlier test tried it
        assertThat(index.toString()).startsWith("[{\"name\":\"digits\",\"version\":\"1\",\"state\":\"UNAVAILABLE\",\"reason\":\"unloaded\"},"
                + "{\"name\":\"digits\",\"version\":\"2\",\"state\":\"UNAVAILABLE\",\"reason\":\"unloaded\"},"
                + "{\"name\":\"digits\",\"version\":\"3\",\"state\":\"UNAVAILABLE\",\"reason\":");
        assertThat(index).hasSize(3);
        error(post("/v2/models/digits/infer", IMAGE), 404, "digits");

        // the highest version is cut short: refused, and nothing serves
        error(load(""), 400, "version 3 failed to load");
        error(load(""), 400, "truncated");
        assertThat(post("/v2/repository/index", "{\"ready\":true}").json()).isEmpty();
        error(load("{\"parameters\":{\"version\":\"9\"}}"), 400, "no version '9'");
        error(load("{\"parameters\":{\"version\":[1]}}"), 400, "parameters.version");
        error(load("{not json"), 400, "not valid JSON");
        error(post("/v2/repository/models/other/load", ""), 400, "no model 'other'");
        error(post("/v2/repository/index", "{\"ready\":\"yes\"}"), 400, "true or false");

        // as curl -d sends it, with a form's Content-Type
        ok(send(java.net.http.HttpRequest.newBuilder(uri("/v2/repository/models/digits/load")).header("Content-Type",
                "application/x-www-form-urlencoded").POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"parameters\":{\"version\":1}}"))
                .build()));
        Reply r = post("/v2/models/digits/infer", IMAGE);
        ok(r);
        assertThat(r.json().get("model_version").asString()).isEqualTo("1");
        assertThat(post("/v2/repository/index", "{\"ready\":true}").json().toString())
                .isEqualTo("[{\"name\":\"digits\",\"version\":\"1\",\"state\":\"READY\",\"reason\":\"\"}]");
        assertThat(get("/v1/models").json().get("models").get(0).get("version").asString()).isEqualTo("1");
        assertThat(management("/actuator/info").json().get("models").toString()).contains("\"version\":\"1\"");
        assertThat(management("/actuator/prometheus").text()).containsPattern("glow_images_processed_total\\{[^}]*model=\"digits\"[^}]*version=\"1\"");
        ok(get("/v2/models/digits/versions/1/ready"));
        // loading the served version again swaps in a fresh copy; its queue keeps one gauge, reading the copy
        ok(load("{\"parameters\":{\"version\":\"1\"}}"));
        assertThat(management("/actuator/prometheus").text().lines().filter(l -> l.startsWith("glow_queue_depth{") && l.contains("digits")))
                .singleElement().satisfies(l -> assertThat(l).contains("version=\"1\"").endsWith(" 0.0"));
        error(get("/v2/models/digits/versions/2/ready"), 404, "no version '2'");

        ok(post("/v2/repository/models/digits/unload", "{}"));
        error(post("/v2/models/digits/infer", IMAGE), 404, "digits");
        error(get("/v2/models/digits/ready"), 404, "digits");
        error(post("/v2/repository/models/digits/unload", ""), 404, "digits");
        assertThat(management("/actuator/prometheus").text()).as("the unloaded version's queue gauge is gone")
                .doesNotContainPattern("glow_queue_depth\\{[^}]*model=\"digits\"");
    }

    private record Answer(int status, String version, double bitsPerDim, long startedNanos, String text) {}

    @Test
    void aNewVersionSwapsInUnderThirtyTwoClientsWithoutOneFailedRequest() throws Exception {
        serveVersionOne();
        double v1 = post("/v2/models/digits/infer", IMAGE).json().get("outputs").get(1).get("data").get(0).asDouble();
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<Answer> answers = new ConcurrentLinkedQueue<>();
        ExecutorService clients = Executors.newFixedThreadPool(32);
        List<Future<?>> running = new ArrayList<>();
        // a quarter of the clients interpolate over /v1: two encodes, then a decode, all on the version they started with
        Map<String, Object> path = Map.of("from", Map.of("image", pngBase64(randomImage(8))), "to", Map.of("image", pngBase64(randomImage(9))),
                "steps", 3);
        for (int c = 0; c < 32; c++) {
            boolean interpolates = c % 4 == 0;
            running.add(clients.submit(() -> {
                while (!stop.get()) {
                    long t = System.nanoTime();
                    if (interpolates) {
                        Reply r = post("/v1/models/digits/interpolate", path);
                        answers.add(new Answer(r.status(), null, Double.NaN, t, r.text()));
                        continue;
                    }
                    Reply r = post("/v2/models/digits/infer", IMAGE);
                    if (r.status() == 200) {
                        JsonNode body = r.json();
                        answers.add(new Answer(200, body.get("model_version").asString(),
                                body.get("outputs").get(1).get("data").get(0).asDouble(), t, ""));
                    } else {
                        answers.add(new Answer(r.status(), null, Double.NaN, t, r.text()));
                    }
                }
            }));
        }
        Thread.sleep(1500);
        Reply swap = load("{\"parameters\":{\"version\":\"2\"}}");
        long swapped = System.nanoTime();
        Thread.sleep(1500);
        stop.set(true);
        for (Future<?> f : running) {
            f.get(60, TimeUnit.SECONDS);
        }
        clients.shutdown();
        ok(swap);

        assertThat(answers).as("not one request failed").allSatisfy(a -> assertThat(a.status()).as(a.text()).isEqualTo(200));
        assertThat(answers.stream().filter(a -> a.version() == null).count()).as("interpolations").isGreaterThan(32);
        answers.removeIf(a -> a.version() == null);
        double v2 = answers.stream().filter(a -> a.version().equals("2")).findFirst().orElseThrow().bitsPerDim();
        assertThat(v2).isNotEqualTo(v1);
        assertThat(answers).as("each answer is wholly one version's").allSatisfy(a ->
                assertThat(a.bitsPerDim()).isEqualTo(a.version().equals("1") ? v1 : v2));
        assertThat(answers.stream().filter(a -> a.version().equals("1")).count()).isGreaterThan(32);
        assertThat(answers.stream().filter(a -> a.startedNanos() > swapped)).as("after the swap, version 2 only").isNotEmpty()
                .allSatisfy(a -> assertThat(a.version()).isEqualTo("2"));
        // version 1 drained and freed: the load answered only after that
        String metrics = management("/actuator/prometheus").text();
        assertThat(metrics).doesNotContainPattern("glow_queue_depth\\{[^}]*version=\"1\"")
                .containsPattern("glow_queue_depth\\{[^}]*model=\"digits\"[^}]*version=\"2\"");
        assertThat(post("/v2/repository/index", "{\"ready\":true}").json().toString()).contains("\"version\":\"2\"")
                .doesNotContain("\"version\":\"1\"");
        System.out.printf("swap under 32 clients: %d answers, %d from version 1, %d from version 2%n", answers.size(),
                answers.stream().filter(a -> a.version().equals("1")).count(), answers.stream().filter(a -> a.version().equals("2")).count());
    }

    @Test
    void aBadNewVersionLeavesTheServedOneServing() {
        serveVersionOne();
        double before = post("/v2/models/digits/infer", IMAGE).json().get("outputs").get(1).get("data").get(0).asDouble();
        error(load("{\"parameters\":{\"version\":\"3\"}}"), 400, "the served version stays");
        Reply after = post("/v2/models/digits/infer", IMAGE);
        ok(after);
        assertThat(after.json().get("model_version").asString()).isEqualTo("1");
        assertThat(after.json().get("outputs").get(1).get("data").get(0).asDouble()).isEqualTo(before);
        assertThat(post("/v2/repository/index", "").json().toString())
                .contains("{\"name\":\"digits\",\"version\":\"1\",\"state\":\"READY\",\"reason\":\"\"}")
                .containsPattern("\"version\":\"3\",\"state\":\"UNAVAILABLE\",\"reason\":\"[^\"]*truncated");
        assertThat(get("/v1/models/digits").status()).isEqualTo(200);
    }
}
