package dev.glowserve.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.net.http.HttpRequest;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Flow;

import static org.assertj.core.api.Assertions.assertThat;

/** Every bad input gets a 4xx problem+json with a useful detail, never a 5xx or a stack trace. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ApiErrorsTest extends ApiTestBase {

    private static JsonNode problem(Reply r, int status, String... detailFragments) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.contentType()).startsWith("application/problem+json");
        JsonNode p = r.json();
        assertThat(p.get("status").asInt()).isEqualTo(status);
        assertThat(p.get("title").asString()).isNotBlank();
        String detail = p.get("detail").asString();
        for (String f : detailFragments) {
            assertThat(detail).contains(f);
        }
        assertThat(r.text()).doesNotContain("at dev.").doesNotContain("Exception").doesNotContain("/work/")
                .doesNotContain("dev.glowserve");
        return p;
    }

    @Test
    void unknownModelIs404() {
        problem(get("/v1/models/nope"), 404, "no model named 'nope'", "tiny");
        problem(post("/v1/models/nope/sample", Map.of("n", 1)), 404, "nope");
    }

    @Test
    void unavailableModelIs503() {
        problem(post("/v1/models/broken/sample", Map.of("n", 1)), 503, "unavailable");
    }

    @Test
    void malformedJsonAndMissingFieldsAre400() {
        assertThat(problem(post("/v1/models/tiny/encode", "{\"images\": [\"abc\""), 400, "not valid JSON", "end-of-input")
                .get("detail").asString()).as("no parser internals").doesNotContain("Source").doesNotContain("REDACTED");
        problem(post("/v1/models/tiny/encode", "{}"), 400, "images is missing");
        problem(post("/v1/models/tiny/encode", "{\"images\": 5}"), 400, "field 'images': must be an array");
        problem(post("/v1/models/tiny/encode", "{\"images\": [{\"png\": 1}]}"), 400, "field 'images[0]': must be a string");
        assertThat(problem(post("/v1/models/tiny/encode", "{\"images\": [[1]]}"), 400, "not valid JSON").get("detail").asString())
                .doesNotContain("Dtos").doesNotContain("FAIL_ON");
        problem(post("/v1/models/tiny/sample", "{\"temperature\": \"hot\"}"), 400, "field 'temperature'");
        problem(post("/v1/models/tiny/interpolate", "{\"from\": 3}"), 400, "field 'from': must be an object");
        problem(post("/v1/models/tiny/decode", "{}"), 400, "items is missing");
        problem(post("/v1/models/tiny/interpolate", "{\"from\": {}}"), 400, "from and to are required");
        problem(post("/v1/models/tiny/encode", Map.of("images", List.of("***not base64***"))), 400, "images[0] is not valid base64");
        problem(post("/v1/models/tiny/manipulate", Map.of("to_class", 1)), 400, "image and to_class are required");
    }

    @Test
    void badImagesAre422() {
        String notPng = Base64.getEncoder().encodeToString("GIF89a definitely not a png".getBytes());
        problem(post("/v1/models/tiny/encode", Map.of("images", List.of(notPng))), 422, "images[0]", "not a PNG");
        byte[] png = dev.glowserve.data.Png.encode(new byte[784], 1, 28, 28);
        byte[] corrupt = java.util.Arrays.copyOf(png, 40);
        problem(post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(Base64.getEncoder().encodeToString(corrupt)))),
                422, "images[0]");
        String bomb = Base64.getEncoder().encodeToString(dev.glowserve.data.PngTest.bomb());
        problem(post("/v1/models/tiny/encode", Map.of("images", List.of(bomb))), 422, "100000×100000", "limit");
        String small = Base64.getEncoder().encodeToString(dev.glowserve.data.Png.encode(new byte[64], 1, 8, 8));
        problem(post("/v1/models/tiny/encode", Map.of("images", List.of(small))), 422, "8×8", "28×28 grayscale");
        byte[] colour = new byte[3 * 784];
        new java.util.Random(1).nextBytes(colour);
        String rgb = Base64.getEncoder().encodeToString(dev.glowserve.data.Png.encode(colour, 3, 28, 28));
        problem(post("/v1/models/tiny/encode", Map.of("images", List.of(rgb))), 422, "lose colour", "28×28 grayscale");
        // gray content sent as RGB is converted: nothing is lost
        byte[] grayAsRgb = new byte[3 * 784];
        for (int c = 0; c < 3; c++) {
            System.arraycopy(randomImage(4), 0, grayAsRgb, c * 784, 784);
        }
        Reply ok = post("/v1/models/tiny/encode", Map.of("images", List.of(Base64.getEncoder().encodeToString(
                dev.glowserve.data.Png.encode(grayAsRgb, 3, 28, 28)))));
        assertThat(ok.status()).isEqualTo(200);
    }

    /** With fit, a photo of another size and colour is fitted to the model's shape, and the answer says how. */
    @Test
    void fitTakesImagesOfAnyShapeAndSaysWhatItDid() {
        byte[] colour = new byte[3 * 40 * 56];
        new java.util.Random(2).nextBytes(colour);
        String photo = Base64.getEncoder().encodeToString(dev.glowserve.data.Png.encode(colour, 3, 40, 56));
        problem(post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(photo))), 422, "56×40", "\"fit\": true");
        for (String op : List.of("log-likelihood", "encode", "ood")) {
            Reply r = post("/v1/models/tiny/" + op, Map.of("images", List.of(photo, pngBase64(randomImage(3))), "fit", true));
            assertThat(r.status()).as(op + ": " + r.text()).isEqualTo(200);
            assertThat(r.json().get("fitted")).as(op).hasSize(1);
            assertThat(r.json().get("fitted").get(0).asString()).isEqualTo(
                    "images[0]: 56×40 RGB fitted to 28×28 grayscale (luma, scaled to fit, centred on black)");
        }
        Reply plain = post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(pngBase64(randomImage(3))), "fit", true));
        assertThat(plain.json().has("fitted")).as("nothing fitted, nothing said").isFalse();
    }

    private ObjectNode decodeBody(double value) {
        JsonNode enc = post("/v1/models/peer/encode", Map.of("images", List.of(pngBase64(randomImage(9))))).json()
                .get("results").get(0);
        ObjectNode item = JSON.createObjectNode();
        item.set("latents", enc.get("latents"));
        ((tools.jackson.databind.node.ArrayNode) item.get("latents").get(1).get("eps").get(3).get(2)).set(4, value);
        ObjectNode body = JSON.createObjectNode();
        body.putArray("items").add(item);
        return body;
    }

    @Test
    void badLatentsAre422() {
        problem(post("/v1/models/peer/decode", decodeBody(1e39)), 422, "items[0].latents[1].eps[3][2][4]", "finite");
        problem(post("/v1/models/peer/decode", decodeBody(5000)), 422, "within");
        String nan = JSON.writeValueAsString(decodeBody(0)).replaceFirst("(\"eps\":\\[\\[\\[)[-0-9.eE]+", "$1NaN");
        Reply r = post("/v1/models/peer/decode", nan);
        assertThat(r.status()).isIn(400, 422);
        problem(r, r.status());
        ObjectNode wrongLevels = JSON.createObjectNode();
        wrongLevels.putArray("items").addObject().putArray("latents").addObject().put("eps", 1);
        assertThat(post("/v1/models/peer/decode", wrongLevels).status()).isIn(400, 422);
        ObjectNode shape = decodeBody(0);
        ((tools.jackson.databind.node.ArrayNode) shape.get("items").get(0).get("latents").get(0).get("eps")).remove(0);
        problem(post("/v1/models/peer/decode", shape), 422, "items[0].latents[0].eps", "[2, 14, 14]");
        // a conditional model needs the class its latents are relative to
        JsonNode enc = post("/v1/models/tiny/encode", Map.of("images", List.of(pngBase64(randomImage(9))))).json().get("results").get(0);
        ObjectNode noClass = JSON.createObjectNode();
        noClass.putArray("items").addObject().set("latents", enc.get("latents"));
        problem(post("/v1/models/tiny/decode", noClass), 422, "items[0].class is required");
    }

    @Test
    void outOfRangeParametersAre422() {
        problem(post("/v1/models/tiny/sample", Map.of("n", 0)), 422, "n = 0", "1..64");
        // a range check names the input at fault in the problem's "field"
        assertThat(problem(post("/v1/models/tiny/sample", Map.of("n", 65)), 422, "n = 65").get("field").asString()).isEqualTo("n");
        problem(post("/v1/models/tiny/sample", Map.of("temperature", -1)), 422, "temperature");
        problem(post("/v1/models/tiny/sample", Map.of("temperature", 3.5)), 422, "temperature");
        problem(post("/v1/models/tiny/sample", Map.of("class", 9)), 422, "class = 9", "0..3");
        problem(post("/v1/models/peer/sample", Map.of("class", 1)), 422, "unconditional");
        String img = pngBase64(randomImage(1));
        Map<String, Object> ends = Map.of("image", img);
        problem(post("/v1/models/peer/interpolate", Map.of("from", ends, "to", ends, "steps", 1)), 422, "steps = 1");
        problem(post("/v1/models/peer/interpolate", Map.of("from", ends, "to", ends, "steps", 65)), 422, "steps = 65");
        problem(post("/v1/models/peer/interpolate", Map.of("from", ends, "to", ends, "method", "cubic")), 422, "cubic");
        problem(post("/v1/models/tiny/encode", Map.of("images", List.of(img), "classes", List.of(7))), 422, "classes[0] = 7");
        problem(post("/v1/models/tiny/encode", Map.of("images", List.of(img), "classes", List.of(1, 2))), 422, "2 entries for 1 images");
        List<String> many = java.util.Collections.nCopies(65, img);
        problem(post("/v1/models/peer/encode", Map.of("images", many)), 422, "65 entries", "1..64");
        problem(post("/v1/models/peer/manipulate", Map.of("image", img, "to_class", 1)), 422, "not class-conditional");
        problem(post("/v1/models/tiny/manipulate", Map.of("image", img, "to_class", 1, "scales", List.of(9))), 422, "scales[0]");
    }

    @Test
    void oversizedBodiesAre413() {
        String big = "{\"images\": [\"" + "A".repeat(1_100_000) + "\"]}";
        problem(post("/v1/models/tiny/encode", big), 413, "larger than the limit");
        // chunked: no Content-Length, the limit is enforced while reading
        byte[] bytes = big.getBytes();
        HttpRequest chunked = HttpRequest.newBuilder(uri("/v1/models/tiny/encode")).header("Content-Type", "application/json")
                .POST(new HttpRequest.BodyPublisher() {
                    final HttpRequest.BodyPublisher inner = HttpRequest.BodyPublishers.ofByteArray(bytes);

                    @Override
                    public long contentLength() {
                        return -1;
                    }

                    @Override
                    public void subscribe(Flow.Subscriber<? super java.nio.ByteBuffer> s) {
                        inner.subscribe(s);
                    }
                }).build();
        problem(send(chunked), 413, "larger than the limit");
    }

    @Test
    void wrongContentTypeMethodAndAcceptAre415And405And406() {
        Reply r = send(HttpRequest.newBuilder(uri("/v1/models/tiny/sample")).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("n=1")).build());
        problem(r, 415);
        problem(send(HttpRequest.newBuilder(uri("/v1/models/tiny/sample")).DELETE().build()), 405);
        problem(get("/v1/models/tiny/encode"), 405);
        Reply accept = post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(pngBase64(randomImage(1)))), "text/csv");
        assertThat(accept.status()).isEqualTo(406);
        problem(get("/v1/nothing-here"), 404);
    }
}
