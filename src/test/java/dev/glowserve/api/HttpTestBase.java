package dev.glowserve.api;

import dev.glowserve.data.Png;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.Random;

/** A test of the running application over HTTP, as its clients call it: the JDK's client, JSON and PNG helpers. */
abstract class HttpTestBase {

    static final JsonMapper JSON = JsonMapper.builder().build();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @LocalServerPort
    int port;

    /** The actuator's own port (management.server.port): probes and metrics. */
    @org.springframework.boot.test.web.server.LocalManagementPort
    int managementPort;

    record Reply(int status, String contentType, byte[] body, java.net.http.HttpHeaders headers) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (Exception e) {
                throw new AssertionError("not JSON: " + new String(body), e);
            }
        }

        String text() {
            return new String(body);
        }
    }

    URI uri(String path) {
        return URI.create("http://localhost:" + port + path);
    }

    /** The API key every request of this test presents, or null (none). */
    String apiKey() {
        return null;
    }

    Reply send(HttpRequest request) {
        if (apiKey() != null && request.headers().firstValue("X-API-Key").isEmpty()) {
            request = HttpRequest.newBuilder(request, (name, value) -> true).header("X-API-Key", apiKey()).build();
        }
        try {
            HttpResponse<byte[]> r = HTTP.send(request, HttpResponse.BodyHandlers.ofByteArray());
            return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body(), r.headers());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    Reply get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build());
    }

    /** A GET on the management port: {@code /actuator/...}. */
    Reply management(String path) {
        return send(HttpRequest.newBuilder(URI.create("http://localhost:" + managementPort + path)).GET().build());
    }

    Reply post(String path, Object body) {
        return post(path, body, "application/json");
    }

    Reply post(String path, Object body, String accept) {
        String json = body instanceof String s ? s : JSON.writeValueAsString(body);
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json").header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    static String pngBase64(byte[] pixels) {
        return Base64.getEncoder().encodeToString(Png.encode(pixels, 1, 28, 28));
    }

    static byte[] randomImage(long seed) {
        byte[] px = new byte[784];
        new Random(seed).nextBytes(px);
        return px;
    }

    static byte[] decodePng(String base64) {
        return Png.decode(Base64.getDecoder().decode(base64), 1 << 20).pixels();
    }
}
