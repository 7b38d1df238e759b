import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;

/**
 * The HTTP half of docker/smoke-test.sh, as a client of the running container would call it (JDK 17 alone, run
 * with {@code java docker/SmokeClient.java}):
 * <pre>
 *   check BASE_URL MODEL PNG MANAGEMENT_URL   a sample as PNG, encode then decode gives the PNG's pixels back, the
 *                                 metrics on the management port (and not on the API's)
 *   inflight BASE_URL MODEL PNG N N encodes of 64 images at once; prints "sent" once all are on the wire, then
 *                                 fails unless every one of them is answered 200 (the drain on docker stop)
 * </pre>
 */
public final class SmokeClient {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    public static void main(String[] args) throws Exception {
        String base = args[1];
        String model = args[2];
        byte[] png = Files.readAllBytes(Path.of(args[3]));
        switch (args[0]) {
            case "check" -> check(base, model, png, args[4]);
            case "inflight" -> inflight(base, model, png, Integer.parseInt(args[4]));
            default -> throw new IllegalArgumentException("check or inflight, not " + args[0]);
        }
    }

    private static void check(String base, String model, byte[] png, String management) throws Exception {
        String m = base + "/v1/models/" + model;
        HttpResponse<byte[]> grid = send(HttpRequest.newBuilder(URI.create(m + "/sample"))
                .header("Content-Type", "application/json").header("Accept", "image/png")
                .POST(HttpRequest.BodyPublishers.ofString("{\"n\": 4, \"seed\": 1}")));
        expect(grid, 200, "sample as PNG");
        BufferedImage sample = ImageIO.read(new ByteArrayInputStream(grid.body()));
        require(sample != null && grid.headers().firstValue("Content-Type").orElse("").startsWith("image/png"),
                "sample: the answer is not a PNG");
        System.out.printf("sample: a %dx%d PNG grid of 4 images%n", sample.getWidth(), sample.getHeight());

        String image = Base64.getEncoder().encodeToString(png);
        HttpResponse<byte[]> encoded = send(json(m + "/encode", "{\"images\": [\"" + image + "\"]}"));
        expect(encoded, 200, "encode");
        String enc = new String(encoded.body(), StandardCharsets.UTF_8);
        String latents = value(enc, "latents");
        Matcher cls = Pattern.compile("\"class\"\\s*:\\s*(\\d+)").matcher(enc);
        String item = "{\"latents\": " + latents + (cls.find() ? ", \"class\": " + cls.group(1) : "") + "}";
        HttpResponse<byte[]> decoded = send(json(m + "/decode", "{\"items\": [" + item + "]}"));
        expect(decoded, 200, "decode");
        String back = value(new String(decoded.body(), StandardCharsets.UTF_8), "png");
        int[] original = pixels(png);
        int[] roundTrip = pixels(Base64.getDecoder().decode(back.substring(1, back.length() - 1)));
        require(Arrays.equals(original, roundTrip), "decode(encode(x)) differs from x");
        System.out.printf("encode -> decode: the identical %d pixels%n", original.length);

        expect(send(HttpRequest.newBuilder(URI.create(base + "/actuator/prometheus")).GET()), 404,
                "/actuator/prometheus on the API port");
        HttpResponse<byte[]> metrics = send(HttpRequest.newBuilder(URI.create(management + "/actuator/prometheus")).GET());
        expect(metrics, 200, "/actuator/prometheus");
        String text = new String(metrics.body(), StandardCharsets.UTF_8);
        require(text.contains("glow_requests_seconds_count{") && text.contains("endpoint=\"decode\""),
                "/actuator/prometheus has no glow_requests timer for decode");
        System.out.println("/actuator/prometheus: request timers present");
    }

    private static void inflight(String base, String model, byte[] png, int n) throws Exception {
        String image = "\"" + Base64.getEncoder().encodeToString(png) + "\"";
        String body = "{\"images\": [" + String.join(", ", java.util.Collections.nCopies(64, image)) + "]}";
        List<CompletableFuture<HttpResponse<byte[]>>> calls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            calls.add(HTTP.sendAsync(json(base + "/v1/models/" + model + "/encode", body).timeout(Duration.ofSeconds(60)).build(),
                    HttpResponse.BodyHandlers.ofByteArray()));
        }
        Thread.sleep(300);
        System.out.println("sent");
        System.out.flush();
        int ok = 0;
        for (CompletableFuture<HttpResponse<byte[]>> call : calls) {
            try {
                HttpResponse<byte[]> r = call.get();
                if (r.statusCode() == 200) {
                    ok++;
                } else {
                    System.out.println("in-flight encode answered " + r.statusCode() + ": "
                            + new String(r.body(), StandardCharsets.UTF_8));
                }
            } catch (java.util.concurrent.ExecutionException e) {
                System.out.println("in-flight encode failed: " + e.getCause());
            }
        }
        System.out.printf("in flight at docker stop: %d of %d encodes of 64 images answered 200%n", ok, n);
        require(ok == n, "requests in flight were dropped by the shutdown");
    }

    private static HttpRequest.Builder json(String url, String body) {
        return HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private static HttpResponse<byte[]> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return HTTP.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static void expect(HttpResponse<byte[]> r, int status, String what) {
        require(r.statusCode() == status, what + " answered " + r.statusCode() + ": "
                + new String(r.body(), StandardCharsets.UTF_8));
    }

    private static void require(boolean ok, String failure) {
        if (!ok) {
            System.err.println("smoke test failed: " + failure);
            System.exit(1);
        }
    }

    /** The JSON value (object, array, string or number) of the first {@code "key":} in {@code json}. */
    private static String value(String json, String key) {
        int at = json.indexOf("\"" + key + "\"");
        require(at >= 0, "no \"" + key + "\" in " + json.substring(0, Math.min(200, json.length())));
        int start = json.indexOf(':', at) + 1;
        while (Character.isWhitespace(json.charAt(start))) {
            start++;
        }
        int depth = 0;
        boolean inString = false;
        for (int i = start; i < json.length(); i++) {
            char c = json.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                    if (depth == 0) {
                        return json.substring(start, i + 1);
                    }
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (depth == 0) {
                    return json.substring(start, i);
                }
                if (--depth == 0) {
                    return json.substring(start, i + 1);
                }
            } else if (c == ',' && depth == 0) {
                return json.substring(start, i);
            }
        }
        return json.substring(start);
    }

    private static int[] pixels(byte[] png) throws IOException {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        return img.getRaster().getPixels(0, 0, img.getWidth(), img.getHeight(), (int[]) null);
    }
}
