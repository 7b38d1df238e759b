package dev.glowserve.api;

import dev.glowserve.flow.GlowConfig;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The service as an attacker tries it, over raw sockets so that every spelling of a URL reaches it as sent: with an
 * API key set and a model repository under explicit control, no spelling of a protected route gets past the key or
 * the body limit, no number, body, weights file or slow client gets an answer outside the API's 4xx forms or takes
 * memory and threads from others, and no answer names a server path or shows a file's content.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class HostileInputTest {

    static final String KEY = "k3y-for-tests";
    static final Path REPO;

    static {
        try {
            REPO = Files.createTempDirectory("glow-hostile");
            TestModels.version(REPO, "digits", "1", 41);
            // weights of 3 GB (a sparse file: no disk used), and weights that are the endless /dev/zero
            Path huge = TestModels.version(REPO, "huge", "1", 42).resolve("weights.safetensors");
            try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
                f.setLength(3L << 30);
            }
            Path zero = TestModels.version(REPO, "zero", "1", 43).resolve("weights.safetensors");
            Files.delete(zero);
            Files.createSymbolicLink(zero, Path.of("/dev/zero"));
            // a manifest whose architecture would take ~70 GB, and one that passes the estimate but not the weights
            TestModels.versionClaiming(REPO, "vast", "1", new GlowConfig(1, 64, 64, 64, 6, 4096, true, true, 0));
            TestModels.versionClaiming(REPO, "wide", "1", new GlowConfig(1, 28, 28, 32, 1, 1024, true, true, 0));
            // a manifest that is a link to a system file
            Path manifest = TestModels.version(REPO, "passwd", "1", 44).resolve("manifest.json");
            Files.delete(manifest);
            Files.createSymbolicLink(manifest, Path.of("/etc/passwd"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) {
        r.add("glow.models[0].path", TestModels::peer);
        r.add("glow.security.api-key", () -> KEY);
        r.add("glow.model-repository", REPO::toString);
        r.add("glow.model-control", () -> "explicit");
        r.add("glow.security.cors-allowed-origins", () -> "https://app.example");
        r.add("glow.limits.body-timeout", () -> "3s");
        r.add("glow.limits.max-receiving-bytes", () -> "12MB");
    }

    @LocalServerPort
    int port;

    @LocalManagementPort
    int managementPort;

    @org.springframework.beans.factory.annotation.Autowired
    RequestBodyFilter bodies;

    static final String SAMPLE = "{\"n\":1,\"seed\":1}";
    static final String V2_SAMPLE = "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5]}]}";

    /** A protected route: method, path, body. */
    record Route(String method, String path, String body) {}

    static final List<Route> PROTECTED = List.of(
            new Route("GET", "/v1/models", null),
            new Route("GET", "/v1/models/peer-tiny", null),
            new Route("POST", "/v1/models/peer-tiny/sample", SAMPLE),
            new Route("GET", "/v2", null),
            new Route("GET", "/v2/models/peer-tiny", null),
            new Route("POST", "/v2/models/peer-tiny-sample/infer", V2_SAMPLE),
            new Route("POST", "/v2/repository/index", "{}"),
            new Route("POST", "/v2/repository/models/digits/load", "{}"),
            new Route("GET", "/v3/api-docs", null));

    /** Spellings the router takes for the same path: each must meet the key like the plain one. */
    static List<String> routedSpellings(String path) {
        String rest = path.substring(3); // after "/v1", "/v2" or "/v3"
        char digit = path.charAt(2);
        return List.of(path, "/%76" + digit + rest, "/%76%3" + digit + rest, "/v%3" + digit + rest);
    }

    /** Spellings the router and a filter could disagree on: refused before anything reads them. */
    static List<String> refusedSpellings(String path) {
        String rest = path.length() > 3 ? path.substring(3) : "/models";
        String first = path.substring(0, 3);
        return List.of(first + ";a=b" + rest, first + ";" + rest, "/" + path, first + "//" + rest.substring(1),
                "/x/.." + path, "/x/%2e%2e" + path, "/x/%2E%2E" + path, first + "/." + rest, first + "%2f" + rest.substring(1),
                first + "%2F" + rest.substring(1), "/x/..%2f" + path.substring(1), first + "\\" + rest.substring(1),
                first + "%5c" + rest.substring(1), first + "%25" + rest.substring(1), first + rest + "%00");
    }

    private RawHttp.Response call(Route r, String path, String key) {
        return RawHttp.json(port, r.method(), path, key, r.body());
    }

    /** The error body of the API a routed path belongs to. */
    static void inApiForm(RawHttp.Response r, String path) {
        boolean v2 = path.startsWith("/v2") || path.startsWith("/%762") || path.startsWith("/%76%32") || path.startsWith("/v%32");
        assertThat(r.header("Content-Type")).as(path + " " + r).startsWith(v2 ? "application/json" : "application/problem+json");
        if (v2) {
            assertThat(r.json().propertyNames()).as(path + " " + r).containsExactly("error");
        } else {
            assertThat(r.json().get("status").asInt()).as(path + " " + r).isEqualTo(r.status());
            assertThat(r.json().has("timestamp")).as("not Spring Boot's default error body").isFalse();
        }
    }

    @Test
    void noSpellingOfAProtectedRouteGetsPastTheKey() {
        for (Route route : PROTECTED) {
            int plainWithKey = call(route, route.path(), KEY).status();
            assertThat(plainWithKey).as(route + " with the key").isEqualTo(200);
            for (String path : routedSpellings(route.path())) {
                RawHttp.Response without = call(route, path, null);
                assertThat(without.status()).as(route.method() + " " + path + " without a key: " + without).isEqualTo(401);
                inApiForm(without, path);
                assertThat(call(route, path, "wrong").status()).as(path + " with a wrong key").isEqualTo(401);
                assertThat(call(route, path, KEY).status()).as(path + " with the key: the router's path").isEqualTo(plainWithKey);
            }
            for (String path : refusedSpellings(route.path())) {
                for (String key : new String[] {null, KEY}) {
                    RawHttp.Response r = call(route, path, key);
                    assertThat(r.status()).as(route.method() + " " + path + (key == null ? " without" : " with") + " the key: " + r)
                            .isEqualTo(400);
                    assertThat(r.header("Content-Type")).as(path).matches("application/(problem\\+)?json.*");
                }
            }
        }
        // the probes of the protocol stay open, however spelt; nothing else is
        assertThat(RawHttp.json(port, "GET", "/%762/health/ready", null, null).status()).isEqualTo(200);
        assertThat(RawHttp.json(port, "POST", "/%762/repository/models/digits/unload", null, "{}").status()).isEqualTo(401);
    }

    @Test
    void theBodyLimitHoldsForEverySpellingAndEveryFraming() {
        byte[] twelveMegabytes = new byte[12 << 20];
        Arrays.fill(twelveMegabytes, (byte) ' ');
        for (String path : List.of("/v2/models/peer-tiny/infer", "/%762/models/peer-tiny/infer", "/%761/models/peer-tiny/encode",
                "/", "/v1/nothing-here")) {
            RawHttp.Response r = RawHttp.send(port, "POST", path, Map.of("Content-Type", "application/json", "X-API-Key", KEY),
                    twelveMegabytes);
            assertThat(r.status()).as(path + " " + r).isEqualTo(413);
        }
        // chunked, with no length said: refused once past 8 MB
        RawHttp.Response chunked = RawHttp.send(port, "POST", "/%762/models/peer-tiny/infer",
                Map.of("Content-Type", "application/json", "X-API-Key", KEY, "Transfer-Encoding", "chunked"), chunks(twelveMegabytes));
        assertThat(chunked.status()).as(chunked.toString()).isEqualTo(413);
        inApiForm(chunked, "/v2");
    }

    private static byte[] chunks(byte[] data) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < data.length; i += 65536) {
            int n = Math.min(65536, data.length - i);
            out.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(data, i, n);
            out.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
        }
        out.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        return out.toByteArray();
    }

    @Test
    void integersBeyondSixtyFourBitsAre400NamingTheField() {
        String two64 = "18446744073709551616";
        Map<String, String> v2 = new LinkedHashMap<>();
        v2.put("binary_data_size", "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],"
                + "\"parameters\":{\"binary_data_size\":" + two64 + "}}]}");
        v2.put("shape[0]", "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[10000000000000000000000000],"
                + "\"data\":[1]}]}");
        v2.put("'TEMPERATURE'[0]", "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1e400]}]}");
        v2.put("'SEED'[0]", "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5]},"
                + "{\"name\":\"SEED\",\"datatype\":\"INT64\",\"shape\":[1],\"data\":[" + two64 + "]}]}");
        v2.forEach((field, body) -> {
            RawHttp.Response r = RawHttp.json(port, "POST", "/v2/models/peer-tiny-sample/infer", KEY, body);
            assertThat(r.status()).as(field + " " + r).isEqualTo(400);
            assertThat(r.json().get("error").asString()).as(field).contains(field);
        });
        String pixels = "[1e25" + ",0".repeat(783) + "]";
        RawHttp.Response image = RawHttp.json(port, "POST", "/v2/models/peer-tiny/infer", KEY,
                "{\"inputs\":[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[1,1,28,28],\"data\":" + pixels + "}]}");
        assertThat(image.status()).as(image.toString()).isEqualTo(400);
        assertThat(image.json().get("error").asString()).contains("'IMAGES'[0]").contains("UINT8");
        RawHttp.Response image64 = RawHttp.json(port, "POST", "/v2/models/peer-tiny/infer", KEY,
                "{\"inputs\":[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[1,1,28,28],\"data\":[" + two64 + ",0"
                        .repeat(783) + "]}]}");
        assertThat(image64.status()).as(image64.toString()).isEqualTo(400);
        for (String field : List.of("n", "seed", "temperature")) {
            RawHttp.Response r = RawHttp.json(port, "POST", "/v1/models/peer-tiny/sample", KEY, "{\"" + field + "\":" + two64 + "0}");
            assertThat(r.status()).as(field + " " + r).isIn(400, 422);
            assertThat(r.json().get("detail").asString()).as(field).contains(field);
        }
    }

    @Test
    void misspeltFieldsAre400NamingThem() {
        RawHttp.Response sample = RawHttp.json(port, "POST", "/v1/models/peer-tiny/sample", KEY, "{\"n\":1,\"temprature\":0.1}");
        assertThat(sample.status()).as(sample.toString()).isEqualTo(400);
        assertThat(sample.json().get("detail").asString()).contains("'temprature'").contains("temperature");
        String image = Base64.getEncoder().encodeToString(dev.glowserve.data.Png.encode(new byte[784], 1, 28, 28));
        RawHttp.Response ood = RawHttp.json(port, "POST", "/v1/models/peer-tiny/ood", KEY,
                "{\"images\":[\"" + image + "\"],\"methd\":\"orientation\"}");
        assertThat(ood.status()).as(ood.toString()).isEqualTo(400);
        assertThat(ood.json().get("detail").asString()).contains("'methd'");
        RawHttp.Response v2 = RawHttp.json(port, "POST", "/v2/models/peer-tiny-sample/infer", KEY,
                V2_SAMPLE.replace("}]}", "}],\"paramters\":{}}"));
        assertThat(v2.status()).as(v2.toString()).isEqualTo(400);
        assertThat(v2.json().get("error").asString()).contains("'paramters'");
        RawHttp.Response tensor = RawHttp.json(port, "POST", "/v2/models/peer-tiny-sample/infer", KEY,
                V2_SAMPLE.replace("\"data\"", "\"dtype\":\"FP32\",\"data\""));
        assertThat(tensor.status()).as(tensor.toString()).isEqualTo(400);
        assertThat(tensor.json().get("error").asString()).contains("'dtype'");
        // what the protocol leaves open stays open: any parameter
        RawHttp.Response extra = RawHttp.json(port, "POST", "/v2/models/peer-tiny-sample/infer", KEY,
                V2_SAMPLE.replace("}]}", "}],\"parameters\":{\"client_trace\":\"abc\"}}"));
        assertThat(extra.status()).as(extra.toString()).isEqualTo(200);
    }

    @Test
    void multipartTakesTheDocumentedSixtyFourImages() {
        byte[] png = dev.glowserve.data.Png.encode(new byte[784], 1, 28, 28);
        RawHttp.Response ok = RawHttp.send(port, "POST", "/v1/models/peer-tiny/log-likelihood", multipartHeaders(), multipart(png, 64));
        assertThat(ok.status()).as(ok.toString()).isEqualTo(200);
        assertThat(ok.json().get("results").size()).isEqualTo(64);
        RawHttp.Response over = RawHttp.send(port, "POST", "/v1/models/peer-tiny/log-likelihood", multipartHeaders(), multipart(png, 65));
        assertThat(over.status()).as("the images limit, not the parts limit: " + over).isEqualTo(422);
        assertThat(over.json().get("detail").asString()).contains("65").contains("64");
        RawHttp.Response flood = RawHttp.send(port, "POST", "/v1/models/peer-tiny/log-likelihood", multipartHeaders(),
                multipart(png, 1000));
        assertThat(flood.status()).as(flood.toString()).isEqualTo(413);
        inApiForm(flood, "/v1");
    }

    private static Map<String, String> multipartHeaders() {
        return Map.of("Content-Type", "multipart/form-data; boundary=xyzzy", "X-API-Key", KEY);
    }

    private static byte[] multipart(byte[] png, int count) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < count; i++) {
            out.writeBytes(("--xyzzy\r\nContent-Disposition: form-data; name=\"images\"; filename=\"" + i + ".png\"\r\n"
                    + "Content-Type: image/png\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.writeBytes(png);
            out.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
        }
        out.writeBytes("--xyzzy--\r\n".getBytes(StandardCharsets.ISO_8859_1));
        return out.toByteArray();
    }

    @Test
    void slowClientsTakeNeitherTheProbesNorOtherRequests() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 200; i++) {
                Socket s = new Socket("127.0.0.1", port);
                s.setSoTimeout(15_000);
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/models/peer-tiny/sample HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY
                        + "\r\nContent-Type: application/json\r\nContent-Length: 72\r\n\r\n{").getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                slow.add(s);
            }
            Thread.sleep(500);
            long t0 = System.nanoTime();
            RawHttp.Response normal = RawHttp.json(port, "POST", "/v1/models/peer-tiny/sample", KEY, SAMPLE);
            long normalMs = (System.nanoTime() - t0) / 1_000_000;
            t0 = System.nanoTime();
            RawHttp.Response ready = RawHttp.send(managementPort, "GET", "/actuator/health/readiness", Map.of(), null);
            long readyMs = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("under 200 slow connections: a sample request answered in %d ms, the readiness probe in %d ms%n",
                    normalMs, readyMs);
            assertThat(normal.status()).isEqualTo(200);
            assertThat(ready.status()).isEqualTo(200);
            assertThat(normalMs).as("a normal request under 200 slow connections").isLessThan(1000);
            assertThat(readyMs).as("the readiness probe under 200 slow connections").isLessThan(1000);
            for (Socket s : slow) { // one more byte each: still far from done when the body deadline (3 s here) passes
                s.getOutputStream().write(' ');
            }
            int answered = 0;
            for (Socket s : slow) {
                RawHttp.Response r = RawHttp.read(s.getInputStream());
                assertThat(r.status()).as(r.toString()).isEqualTo(408);
                inApiForm(r, "/v1");
                answered++;
            }
            assertThat(answered).isEqualTo(200);
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
        // a body that never comes (a lying Content-Length): 408 at the deadline, in the protocol's form under /v2
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(15_000);
            s.getOutputStream().write(("POST /v2/models/peer-tiny-sample/infer HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY
                    + "\r\nContent-Length: 100\r\n\r\n{\"inputs\"").getBytes(StandardCharsets.ISO_8859_1));
            long t0 = System.nanoTime();
            RawHttp.Response r = RawHttp.read(s.getInputStream());
            assertThat(r.status()).isEqualTo(408);
            inApiForm(r, "/v2");
            assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(2000L, 8000L);
        }
    }

    /** Bodies that stall part-way hold what they sent, within a budget for all: beyond it, 503 at once; after, room again. */
    @Test
    void stalledBodiesCannotHoardMemory() throws Exception {
        try (Socket a = new Socket("127.0.0.1", port); Socket b = new Socket("127.0.0.1", port)) {
            a.setSoTimeout(15_000);
            b.setSoTimeout(15_000);
            for (Socket s : List.of(a, b)) {
                s.getOutputStream().write(("POST /v1/models/peer-tiny/encode HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY
                        + "\r\nContent-Type: application/json\r\nContent-Length: " + (8 << 20) + "\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
            }
            a.getOutputStream().write(new byte[7 << 20]); // 7 MB of 8, then nothing more
            long until = System.nanoTime() + 5_000_000_000L;
            while (bodies.receivingBytes() < (7 << 20) && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertThat(bodies.receivingBytes()).as("the first body's bytes, held while it arrives").isEqualTo(7L << 20);
            try {
                b.getOutputStream().write(new byte[6 << 20]); // 13 MB arriving in all: more than the 12 MB budget
            } catch (IOException e) {
                // answered and closed before all of it went out
            }
            RawHttp.Response refused = RawHttp.read(b.getInputStream());
            assertThat(refused.status()).as(refused.toString()).isEqualTo(503);
            assertThat(refused.header("Retry-After")).isEqualTo("1");
            inApiForm(refused, "/v1");
            RawHttp.Response timedOut = RawHttp.read(a.getInputStream());
            assertThat(timedOut.status()).isEqualTo(408);
        }
        long until = System.nanoTime() + 5_000_000_000L;
        while (bodies.receivingBytes() != 0 && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertThat(bodies.receivingBytes()).as("every byte handed back once the bodies ended").isZero();
        assertThat(RawHttp.json(port, "POST", "/v1/models/peer-tiny/sample", KEY, SAMPLE).status()).isEqualTo(200);
    }

    @Test
    void errorsOutsideTheControllersSpeakTheApisForm() {
        for (String path : List.of("/v1/models", "/v2/models/peer-tiny")) {
            RawHttp.Response trace = RawHttp.json(port, "TRACE", path, KEY, null);
            assertThat(trace.status()).as(trace.toString()).isEqualTo(405);
            inApiForm(trace, path);
        }
        RawHttp.Response cors = RawHttp.send(port, "POST", "/v2/models/peer-tiny-sample/infer",
                Map.of("Content-Type", "application/json", "X-API-Key", KEY, "Origin", "https://evil.example"),
                V2_SAMPLE.getBytes(StandardCharsets.UTF_8));
        assertThat(cors.status()).isEqualTo(403);
        inApiForm(cors, "/v2");
        RawHttp.Response preflight = RawHttp.send(port, "OPTIONS", "/v1/models/peer-tiny/sample", Map.of("Origin",
                "https://evil.example", "Access-Control-Request-Method", "POST"), null);
        assertThat(preflight.status()).isEqualTo(403);
        inApiForm(preflight, "/v1");
        // a chunk that is not hexadecimal: refused (Tomcat closes such a connection at once), never a 5xx or a hang
        RawHttp.Response badChunk = RawHttp.send(port, "POST", "/v1/models/peer-tiny/sample", Map.of("Content-Type",
                "application/json", "X-API-Key", KEY, "Transfer-Encoding", "chunked"), "zz\r\n{}\r\n0\r\n\r\n".getBytes());
        assertThat(badChunk.status()).as(badChunk.toString()).isIn(0, 400);
        if (badChunk.status() == 400) {
            inApiForm(badChunk, "/v1");
        }
    }

    private RawHttp.Response load(String model) {
        return RawHttp.json(port, "POST", "/v2/repository/models/" + model + "/load", KEY, "{}");
    }

    @Test
    void refusedLoadsNameNoServerPathShowNoFileContentAndKeepNoMemory() throws Exception {
        Map<String, String> refusals = Map.of(
                "huge", "more than the limit",
                "zero", "not a regular file",
                "vast", "more than the limit",
                "wide", "architecture.levels is 1 but weights.safetensors has 2",
                "passwd", "not valid JSON",
                "nope", "no model 'nope' in the model repository");
        refusals.forEach((model, reason) -> {
            long t0 = System.nanoTime();
            RawHttp.Response r = load(model);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(r.status()).as(model + " " + r).isEqualTo(400);
            String error = r.json().get("error").asString();
            assertThat(error).as(model).contains(reason).doesNotContain(REPO.toString()).doesNotContain("/tmp")
                    .doesNotContain("root").doesNotContain("/bin/");
            assertThat(ms).as(model + " is refused before anything large is read or built").isLessThan(3000);
        });
        RawHttp.Response index = RawHttp.json(port, "POST", "/v2/repository/index", KEY, "{}");
        assertThat(index.text()).doesNotContain(REPO.toString()).doesNotContain("root:");

        load("wide"); // the first refusal loads the code it runs
        System.gc();
        long before = rssBytes();
        for (int i = 0; i < 10; i++) {
            assertThat(load(i % 2 == 0 ? "wide" : "vast").status()).isEqualTo(400);
        }
        System.gc();
        long after = rssBytes();
        System.out.printf("resident memory around 10 refused loads: %d MB before, %d MB after (%+d MB)%n", before >> 20,
                after >> 20, (after - before) >> 20);
        assertThat(after - before).as("resident memory kept by 10 refused loads").isLessThan(50L << 20);
    }

    private static long rssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void metricsAndProbesAreOnTheManagementPortAndTheDocsBehindTheKey() {
        for (String path : List.of("/actuator/prometheus", "/actuator/health", "/actuator/info")) {
            assertThat(RawHttp.send(port, "GET", path, Map.of(), null).status()).as(path + " on the API port").isEqualTo(404);
            assertThat(RawHttp.send(managementPort, "GET", path, Map.of(), null).status()).as(path + " on the management port")
                    .isEqualTo(200);
        }
        for (String path : List.of("/v3/api-docs", "/swagger-ui.html", "/v3/api-docs/swagger-config")) {
            assertThat(RawHttp.send(port, "GET", path, Map.of(), null).status()).as(path).isEqualTo(401);
        }
        assertThat(RawHttp.send(port, "GET", "/v3/api-docs", Map.of("X-API-Key", KEY), null).status()).isEqualTo(200);
        assertThat(RawHttp.send(port, "GET", "/", Map.of(), null).status()).as("the page asks for the key itself").isEqualTo(200);
    }
}
