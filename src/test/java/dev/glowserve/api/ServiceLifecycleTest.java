package dev.glowserve.api;

import dev.glowserve.GlowServeApplication;
import org.junit.jupiter.api.Test;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Back-pressure (429), deadlines (503) and graceful shutdown, each on its own running application. */
class ServiceLifecycleTest {

    static ConfigurableApplicationContext start(String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("--server.port=0", "--glow.models[0].path=" + TestModels.peer(),
                "--glow.models[0].name=peer"));
        args.addAll(List.of(extra));
        return new SpringApplicationBuilder(GlowServeApplication.class).run(args.toArray(new String[0]));
    }

    static int port(ConfigurableApplicationContext ctx) {
        return ((WebServerApplicationContext) ctx).getWebServer().getPort();
    }

    static HttpRequest post(int port, String path, String json) {
        return HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(json)).build();
    }

    static String image() {
        return ApiTestBase.pngBase64(ApiTestBase.randomImage(1));
    }

    @Test
    void invalidLimitsStopStartUpNamingTheProperty() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> start("--glow.limits.max-images=0"))
                .hasStackTraceContaining("on field 'limits.maxImages': rejected value [0]")
                .hasStackTraceContaining("must be greater than or equal to 1");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> start("--glow.batching.max-batch-size=-5"))
                .hasStackTraceContaining("on field 'batching.maxBatchSize': rejected value [-5]");
    }

    @Test
    void fullQueueAnswers429AndExpiredRequestsAnswer503() throws Exception {
        // the worker holds a sample for 1 s waiting for company; scores queue behind it (capacity 1, 300 ms deadline)
        try (ConfigurableApplicationContext ctx = start("--glow.batching.max-queue-delay=1s", "--glow.batching.queue-capacity=1",
                "--glow.batching.request-timeout=300ms", "--glow.batching.max-batch-size=1000")) {
            int port = port(ctx);
            HttpClient http = HttpClient.newHttpClient();
            CompletableFuture<HttpResponse<String>> sample = http.sendAsync(post(port, "/v1/models/peer/sample", "{\"n\":1,\"seed\":1}"),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(200);
            String score = "{\"images\":[\"" + image() + "\"]}";
            CompletableFuture<HttpResponse<String>> queued = http.sendAsync(post(port, "/v1/models/peer/log-likelihood", score),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(200);
            HttpResponse<String> refused = http.send(post(port, "/v1/models/peer/log-likelihood", score), HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(refused.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
            assertThat(refused.body()).contains("queue-full");
            assertThat(sample.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            HttpResponse<String> expired = queued.get(10, TimeUnit.SECONDS);
            assertThat(expired.statusCode()).isEqualTo(503);
            assertThat(expired.body()).contains("deadline-exceeded").contains("not computed");
            // with the queue free again, requests succeed
            assertThat(http.send(post(port, "/v1/models/peer/log-likelihood", score), HttpResponse.BodyHandlers.ofString()).statusCode())
                    .isEqualTo(200);

            // the same over the Open Inference Protocol, in its error form
            String v2Sample = "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.7]}]}";
            String v2Score = "{\"inputs\":[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[1,1,28,28],\"data\":"
                    + java.util.Arrays.toString(new int[784]) + "}]}";
            CompletableFuture<HttpResponse<String>> sample2 = http.sendAsync(post(port, "/v2/models/peer-sample/infer", v2Sample),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(200);
            CompletableFuture<HttpResponse<String>> queued2 = http.sendAsync(post(port, "/v2/models/peer/infer", v2Score),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(200);
            HttpResponse<String> refused2 = http.send(post(port, "/v2/models/peer/infer", v2Score), HttpResponse.BodyHandlers.ofString());
            assertThat(refused2.statusCode()).isEqualTo(429);
            assertThat(refused2.headers().firstValue("Retry-After")).isPresent();
            assertThat(refused2.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
            assertThat(refused2.body()).startsWith("{\"error\":").contains("queue");
            assertThat(sample2.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            HttpResponse<String> expired2 = queued2.get(10, TimeUnit.SECONDS);
            assertThat(expired2.statusCode()).isEqualTo(503);
            assertThat(expired2.body()).startsWith("{\"error\":").contains("not computed");
        }
    }

    @Test
    void workOfARequestThatTimedOutIsDroppedUncomputed() throws Exception {
        // the worker holds a sample for 3 s; a score queued behind it times out at 300 ms (Tomcat checks about once a
        // second), long before its own 30 s deadline
        try (ConfigurableApplicationContext ctx = start("--glow.batching.max-queue-delay=3s", "--glow.batching.max-batch-size=1000",
                "--spring.mvc.async.request-timeout=300ms")) {
            int port = port(ctx);
            HttpClient http = HttpClient.newHttpClient();
            CompletableFuture<HttpResponse<String>> sample = http.sendAsync(post(port, "/v1/models/peer/sample", "{\"n\":1,\"seed\":1}"),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(150);
            HttpResponse<String> timedOut = http.send(post(port, "/v1/models/peer/log-likelihood", "{\"images\":[\"" + image() + "\"]}"),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(timedOut.statusCode()).isEqualTo(503);
            assertThat(timedOut.body()).contains("timeout");
            HttpResponse<String> timedOut2 = http.send(post(port, "/v2/models/peer/infer", "{\"inputs\":[{\"name\":\"IMAGES\","
                    + "\"datatype\":\"UINT8\",\"shape\":[1,1,28,28],\"data\":" + java.util.Arrays.toString(new int[784]) + "}]}"),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(timedOut2.statusCode()).isEqualTo(503);
            assertThat(timedOut2.body()).startsWith("{\"error\":").contains("timeout");
            sample.get(10, TimeUnit.SECONDS);
            Thread.sleep(300);
            var meters = ctx.getBean(io.micrometer.core.instrument.MeterRegistry.class);
            // the scheduler registers its meters once, at the start: the encode counter is there, and still at zero
            assertThat(meters.find("glow.images.processed").tag("operation", "encode").counter().count())
                    .as("the timed-out request's image was never computed").isZero();
            assertThat(meters.find("glow.requests.deadline.expired").counter().count()).isZero();
        }
    }

    @Test
    void shutdownTurnsReadinessDownRefusesNewRequestsAndFinishesInFlightWork() throws Exception {
        ConfigurableApplicationContext ctx = start("--glow.batching.max-queue-delay=1500ms", "--glow.batching.max-batch-size=1000");
        int port = port(ctx);
        ApplicationAvailability availability = ctx.getBean(ApplicationAvailability.class);
        assertThat(availability.getReadinessState()).isEqualTo(ReadinessState.ACCEPTING_TRAFFIC);
        HttpClient http = HttpClient.newHttpClient();
        CompletableFuture<HttpResponse<String>> inFlight = http.sendAsync(post(port, "/v1/models/peer/sample", "{\"n\":2,\"seed\":3}"),
                HttpResponse.BodyHandlers.ofString());
        Thread.sleep(300);
        CompletableFuture<Void> closing = CompletableFuture.runAsync(ctx::close); // what SIGTERM does
        long until = System.nanoTime() + 5_000_000_000L;
        while (availability.getReadinessState() != ReadinessState.REFUSING_TRAFFIC && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        assertThat(availability.getReadinessState()).as("readiness goes down first").isEqualTo(ReadinessState.REFUSING_TRAFFIC);
        Thread.sleep(200);
        boolean refused;
        try {
            HttpResponse<String> late = HttpClient.newHttpClient().send(post(port, "/v1/models/peer/sample", "{\"n\":1}"),
                    HttpResponse.BodyHandlers.ofString());
            refused = late.statusCode() == 503;
        } catch (java.io.IOException e) {
            refused = true; // the server no longer accepts connections
        }
        assertThat(refused).as("new requests are refused during shutdown").isTrue();
        HttpResponse<String> done = inFlight.get(20, TimeUnit.SECONDS);
        assertThat(done.statusCode()).as("in-flight work finishes").isEqualTo(200);
        assertThat(done.body()).contains("\"images\"");
        closing.get(30, TimeUnit.SECONDS);
    }
}
