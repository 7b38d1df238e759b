package dev.glowserve.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Every endpoint's success path over real HTTP. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ApiTest extends ApiTestBase {

    @Test
    void listsAndDescribesModels() {
        Reply r = get("/v1/models");
        assertThat(r.status()).isEqualTo(200);
        JsonNode models = r.json().get("models");
        assertThat(models).hasSize(3);
        JsonNode tiny = get("/v1/models/tiny").json();
        assertThat(tiny.get("name").asString()).isEqualTo("tiny");
        assertThat(tiny.get("version").asString()).isEqualTo("3");
        assertThat(tiny.get("status").asString()).isEqualTo("available");
        assertThat(tiny.get("image_shape").toString()).isEqualTo("[1,28,28]");
        assertThat(tiny.get("latent_shapes").toString()).isEqualTo("[[2,14,14],[8,7,7]]");
        assertThat(tiny.get("n_bits").asInt()).isEqualTo(8);
        assertThat(tiny.get("classes").toString()).isEqualTo("[\"zero\",\"one\",\"two\",\"three\"]");
        assertThat(tiny.get("device").asString()).isEqualTo("cpu");
        assertThat(tiny.get("test_bits_per_dim").asDouble()).isEqualTo(4.5);
        assertThat(tiny.get("parameters").asLong()).isGreaterThan(1000);
        assertThat(tiny.get("architecture").get("flows_per_level").asInt()).isEqualTo(2);
        JsonNode peer = get("/v1/models/peer").json();
        assertThat(peer.has("classes")).isFalse();
        JsonNode broken = get("/v1/models/broken").json();
        assertThat(broken.get("status").asString()).isEqualTo("unavailable");
        assertThat(broken.get("error").asString()).contains("architecture");
    }

    @Test
    void sameSeedSameBytesAndGridOnRequest() {
        Map<String, Object> req = Map.of("n", 3, "seed", 42, "temperature", 0.8, "class", 2);
        Reply a = post("/v1/models/tiny/sample", req);
        Reply b = post("/v1/models/tiny/sample", req);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.body()).isEqualTo(b.body());
        JsonNode images = a.json().get("images");
        assertThat(images).hasSize(3);
        assertThat(a.json().get("seed").asLong()).isEqualTo(42);
        assertThat(images.get(0).get("class").asInt()).isEqualTo(2);
        assertThat(decodePng(images.get(0).get("png").asString())).hasSize(784);
        assertThat(images.get(0).has("latents")).isFalse();

        Reply other = post("/v1/models/tiny/sample", Map.of("n", 3, "seed", 43, "temperature", 0.8, "class", 2));
        assertThat(other.json().get("images").get(0).get("png").asString()).isNotEqualTo(images.get(0).get("png").asString());

        Reply withLatents = post("/v1/models/tiny/sample", Map.of("n", 1, "seed", 42, "temperature", 0.8, "class", 2, "return_latents", true));
        JsonNode latents = withLatents.json().get("images").get(0).get("latents");
        assertThat(latents).hasSize(2);
        assertThat(latents.get(1).get("shape").toString()).isEqualTo("[8,7,7]");
        // the first image of a draw is the same image whatever n is
        assertThat(withLatents.json().get("images").get(0).get("png").asString()).isEqualTo(images.get(0).get("png").asString());

        Reply grid = post("/v1/models/tiny/sample", req, "image/png");
        assertThat(grid.status()).isEqualTo(200);
        assertThat(grid.contentType()).isEqualTo("image/png");
        assertThat(grid.headers().firstValue("X-Seed")).contains("42");
        assertThat(dev.glowserve.data.Png.decode(grid.body(), 1 << 20).width()).isEqualTo(2 * 28 + 3);

        Reply defaults = post("/v1/models/peer/sample", "{}");
        assertThat(defaults.status()).isEqualTo(200);
        assertThat(defaults.json().get("images")).hasSize(1);
        assertThat(defaults.json().get("temperature").asDouble()).isEqualTo(0.7);
    }

    @Test
    void encodeThenDecodeGivesTheIdenticalPng() {
        byte[] image = randomImage(5);
        String png = pngBase64(image);
        Reply enc = post("/v1/models/tiny/encode", Map.of("images", List.of(png)));
        assertThat(enc.status()).isEqualTo(200);
        JsonNode result = enc.json().get("results").get(0);
        assertThat(result.get("latents")).hasSize(2);
        assertThat(result.get("latents").get(0).get("shape").toString()).isEqualTo("[2,14,14]");
        assertThat(result.get("bits_per_dim").asDouble()).isPositive();
        assertThat(result.get("class_probabilities")).hasSize(4);
        ObjectNode item = JSON.createObjectNode();
        item.set("latents", result.get("latents"));
        item.put("class", result.get("class").asInt());
        ObjectNode body = JSON.createObjectNode();
        body.putArray("items").add(item);
        Reply dec = post("/v1/models/tiny/decode", body);
        assertThat(dec.status()).isEqualTo(200);
        String back = dec.json().get("images").get(0).get("png").asString();
        assertThat(decodePng(back)).isEqualTo(image);
        assertThat(Base64.getDecoder().decode(back)).isEqualTo(Base64.getDecoder().decode(png));

        // an encode result item can be sent back as it is, and a grid comes back as PNG
        ArrayNode items = JSON.createArrayNode().add(result);
        ObjectNode again = JSON.createObjectNode();
        again.set("items", items);
        Reply grid = post("/v1/models/tiny/decode", again, "image/png");
        assertThat(grid.status()).isEqualTo(200);
        assertThat(dev.glowserve.data.Png.decode(grid.body(), 1 << 20).pixels()).hasSize((28 + 2) * (28 + 2));
    }

    @Test
    void encodeAcceptsMultipartUploads() {
        byte[] image = randomImage(8);
        String boundary = "glowboundary";
        byte[] png = dev.glowserve.data.Png.encode(image, 1, 28, 28);
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"images\"; filename=\"a.png\"\r\n"
                + "Content-Type: image/png\r\n\r\n").getBytes());
        body.writeBytes(png);
        body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes());
        Reply r = send(HttpRequest.newBuilder(uri("/v1/models/peer/encode"))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build());
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        Reply json = post("/v1/models/peer/encode", Map.of("images", List.of(pngBase64(image))));
        assertThat(r.json().get("results").get(0).get("log_p_nats").asDouble())
                .isEqualTo(json.json().get("results").get(0).get("log_p_nats").asDouble());
    }

    @Test
    void logLikelihoodIsDeterministicAndMatchesTheFixture() throws Exception {
        JsonNode ref = JSON.readTree(java.nio.file.Path.of(TestModels.peer(), "reference.json").toFile());
        List<String> images = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            byte[] px = new byte[784];
            for (int p = 0; p < 784; p++) {
                px[p] = (byte) ref.get("images_u8").get(i).get(p).asInt();
            }
            images.add(pngBase64(px));
        }
        Reply a = post("/v1/models/peer/log-likelihood", Map.of("images", images));
        Reply b = post("/v1/models/peer/log-likelihood", Map.of("images", images));
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.body()).isEqualTo(b.body());
        for (int i = 0; i < 3; i++) {
            double want = ref.get("log_p_nats").get(i).asDouble();
            assertThat(a.json().get("results").get(i).get("log_p_nats").asDouble())
                    .isCloseTo(want, org.assertj.core.data.Offset.offset(Math.abs(want) * 1e-4));
            assertThat(a.json().get("results").get(i).get("bits_per_dim").asDouble())
                    .isCloseTo(ref.get("bits_per_dim").get(i).asDouble(), org.assertj.core.data.Offset.offset(1e-3));
        }
        Reply conditional = post("/v1/models/tiny/log-likelihood", Map.of("images", images.subList(0, 2), "classes", List.of(1, 3)));
        assertThat(conditional.json().get("results").get(1).get("class").asInt()).isEqualTo(3);
        assertThat(conditional.json().get("results").get(1).has("class_probabilities")).isFalse();
    }

    @Test
    void interpolatesBetweenImagesAndLatents() {
        byte[] a = randomImage(1);
        byte[] b = randomImage(2);
        Map<String, Object> req = Map.of("from", Map.of("image", pngBase64(a)), "to", Map.of("image", pngBase64(b)),
                "steps", 5, "method", "slerp");
        Reply r = post("/v1/models/peer/interpolate", req);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode images = r.json().get("images");
        assertThat(images).hasSize(5);
        assertThat(decodePng(images.get(0).get("png").asString())).isEqualTo(a);
        assertThat(decodePng(images.get(4).get("png").asString())).isEqualTo(b);
        Reply strip = post("/v1/models/peer/interpolate", req, "image/png");
        assertThat(strip.contentType()).isEqualTo("image/png");
        assertThat(dev.glowserve.data.Png.decode(strip.body(), 1 << 20).width()).isEqualTo(5 * 29 + 1);

        // latents ends on a conditional model, in one class
        JsonNode enc = post("/v1/models/tiny/encode", Map.of("images", List.of(pngBase64(a), pngBase64(b)), "classes", List.of(1, 1)))
                .json().get("results");
        ObjectNode body = JSON.createObjectNode();
        body.putObject("from").set("latents", enc.get(0).get("latents"));
        body.putObject("to").set("latents", enc.get(1).get("latents"));
        body.put("class", 1);
        body.put("steps", 3);
        Reply lat = post("/v1/models/tiny/interpolate", body);
        assertThat(lat.status()).as(lat.text()).isEqualTo(200);
        assertThat(decodePng(lat.json().get("images").get(0).get("png").asString())).isEqualTo(a);
        assertThat(decodePng(lat.json().get("images").get(2).get("png").asString())).isEqualTo(b);

        // image ends on a conditional model: the path is in the 'from' image's most probable class
        Reply mixed = post("/v1/models/tiny/interpolate", Map.of("from", Map.of("image", pngBase64(a)), "to", Map.of("image", pngBase64(b)), "steps", 2));
        assertThat(mixed.status()).isEqualTo(200);
        assertThat(decodePng(mixed.json().get("images").get(1).get("png").asString())).isEqualTo(b);
    }

    @Test
    void manipulatesAlongAClassDirection() {
        byte[] a = randomImage(3);
        Reply r = post("/v1/models/tiny/manipulate", Map.of("image", pngBase64(a), "from_class", 0, "to_class", 2,
                "scales", List.of(0.0, 1.0)));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode images = r.json().get("images");
        assertThat(images).hasSize(2);
        assertThat(decodePng(images.get(0).get("png").asString())).as("scale 0 is the image itself").isEqualTo(a);
        assertThat(decodePng(images.get(1).get("png").asString())).isNotEqualTo(a);
        assertThat(r.json().get("direction_source").asString()).isEqualTo("top_prior");
        Reply strip = post("/v1/models/tiny/manipulate", Map.of("image", pngBase64(a), "from_class", 0, "to_class", 2,
                "scales", List.of(0.0, 0.5, 1.0)), "image/png");
        assertThat(strip.contentType()).isEqualTo("image/png");
        assertThat(dev.glowserve.data.Png.decode(strip.body(), 1 << 20).width()).isEqualTo(3 * 29 + 1);
    }

    @Test
    void actuatorHealthInfoAndPrometheus() {
        assertThat(management("/actuator/health/liveness").status()).isEqualTo(200);
        Reply ready = management("/actuator/health/readiness");
        assertThat(ready.status()).isEqualTo(200);
        JsonNode models = ready.json().get("components").get("models").get("details");
        assertThat(models.get("device").asString()).isEqualTo("cpu");
        assertThat(models.get("broken").get("status").asString()).isEqualTo("unavailable");
        assertThat(models.get("tiny").get("status").asString()).isEqualTo("available");
        JsonNode info = management("/actuator/info").json();
        assertThat(info.get("models").get("tiny").get("version").asString()).isEqualTo("3");
        assertThat(info.get("models").get("tiny").get("inference").asString()).isEqualTo("torchscript+onednn");
        assertThat(info.get("build").get("version").asString()).isNotBlank();
        post("/v1/models/tiny/sample", Map.of("n", 1, "seed", 1));
        String prom = management("/actuator/prometheus").text();
        assertThat(prom).contains("glow_requests_seconds_count{application=\"glow-serve\",endpoint=\"sample\",model=\"tiny\"")
                .contains("glow_model_reverse_seconds").contains("glow_images_processed_total")
                .contains("glow_batch_size").contains("glow_queue_depth").contains("glow_queue_wait_seconds");
        assertThat(management("/actuator/env").status()).isEqualTo(404);
        assertThat(management("/actuator/heapdump").status()).isEqualTo(404);
        assertThat(get("/v3/api-docs").status()).isEqualTo(200);
        assertThat(get("/swagger-ui.html").status()).isIn(200, 302);
    }
}
