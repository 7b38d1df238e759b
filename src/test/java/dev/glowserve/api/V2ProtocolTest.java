package dev.glowserve.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The Open Inference Protocol as its text states it, over raw HTTP: health, metadata, readiness, inference with JSON
 * and with binary tensors (in and out), and every error answered as {@code {"error"}} with its status. The numbers
 * are /v1's for the same inputs.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class V2ProtocolTest extends ApiTestBase {

    static final String HEADER = "Inference-Header-Content-Length";

    Reply infer(String model, Object request) {
        return post("/v2/models/" + model + "/infer", request);
    }

    /** A binary request: the JSON header, then the tensors' bytes. */
    Reply inferBinary(String model, String header, byte[]... tensors) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        body.writeBytes(h);
        for (byte[] t : tensors) {
            body.writeBytes(t);
        }
        return send(HttpRequest.newBuilder(uri("/v2/models/" + model + "/infer")).header("Content-Type", "application/octet-stream")
                .header(HEADER, Integer.toString(h.length)).POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build());
    }

    static ObjectNode tensor(String name, String datatype, long[] shape, Object data) {
        ObjectNode t = JSON.createObjectNode();
        t.put("name", name);
        t.put("datatype", datatype);
        ArrayNode s = t.putArray("shape");
        for (long d : shape) {
            s.add(d);
        }
        t.set("data", JSON.valueToTree(data));
        return t;
    }

    static ObjectNode request(ObjectNode... inputs) {
        ObjectNode r = JSON.createObjectNode();
        ArrayNode in = r.putArray("inputs");
        for (ObjectNode t : inputs) {
            in.add(t);
        }
        return r;
    }

    static int[] pixels(byte[] image) {
        int[] v = new int[image.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = image[i] & 0xff;
        }
        return v;
    }

    void error(Reply r, int status, String... contains) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.contentType()).startsWith("application/json");
        JsonNode body = r.json();
        assertThat(body.propertyNames()).as(r.text()).containsExactly("error");
        for (String c : contains) {
            assertThat(body.get("error").asString()).contains(c);
        }
        assertThat(r.text()).doesNotContain("Exception").doesNotContain("at dev.");
    }

    @Test
    void healthServerAndModelMetadata() {
        assertThat(get("/v2/health/live").json().get("live").asBoolean()).isTrue();
        Reply ready = get("/v2/health/ready");
        // 'broken' cannot load: the server is not ready, and says so
        assertThat(ready.status()).isEqualTo(503);
        assertThat(ready.json().get("ready").asBoolean()).isFalse();
        JsonNode server = get("/v2").json();
        assertThat(server.get("name").asString()).isEqualTo("glow-serve");
        assertThat(server.get("version").asString()).isNotBlank();
        assertThat(JSON.convertValue(server.get("extensions"), List.class)).contains("binary_tensor_data", "model_repository");

        JsonNode score = get("/v2/models/tiny").json();
        assertThat(score.get("name").asString()).isEqualTo("tiny");
        assertThat(score.get("versions").get(0).asString()).isEqualTo("3");
        assertThat(score.get("inputs").toString()).isEqualTo("[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[-1,1,28,28]}]");
        assertThat(score.get("outputs").toString()).contains("\"LOG_P_NATS\"", "\"BITS_PER_DIM\"", "\"CLASS_PROBABILITIES\"", "[-1,4]");
        JsonNode encode = get("/v2/models/tiny-encode/versions/3").json();
        assertThat(encode.get("inputs").toString()).contains("IMAGES", "CLASS");
        assertThat(encode.get("outputs").toString()).contains("\"EPS_0\"", "[-1,2,14,14]", "\"EPS_1\"", "[-1,8,7,7]");
        assertThat(encode.get("outputs").findValuesAsString("name")).containsExactly("EPS_0", "EPS_1", "LOG_P_NATS", "BITS_PER_DIM", "CLASS");
        assertThat(get("/v2/models/peer-encode").json().get("outputs").findValuesAsString("name"))
                .as("an unconditional model's latents need no class").containsExactly("EPS_0", "EPS_1", "LOG_P_NATS", "BITS_PER_DIM");
        JsonNode decode = get("/v2/models/peer-decode").json();
        assertThat(decode.get("inputs").toString()).contains("EPS_0", "EPS_1").doesNotContain("CLASS");
        assertThat(decode.get("outputs").toString()).contains("IMAGES");
        JsonNode sample = get("/v2/models/tiny-sample").json();
        assertThat(sample.get("inputs").toString()).contains("TEMPERATURE", "FP32", "SEED", "[1]", "CLASS");

        assertThat(get("/v2/models/tiny/ready").json().get("ready").asBoolean()).isTrue();
        assertThat(get("/v2/models/tiny-encode/versions/3/ready").status()).isEqualTo(200);
        error(get("/v2/models/nope"), 404, "nope");
        error(get("/v2/models/tiny/versions/9"), 404, "no version '9'");
        error(get("/v2/models/tiny/versions/9/ready"), 404);
        error(get("/v2/models/broken"), 503, "unavailable");
        assertThat(get("/v2/models/broken/ready").status()).isEqualTo(503);
    }

    @Test
    void scoreAndEncodeGiveV1sNumbersInJsonAndBinary() {
        byte[] a = randomImage(31);
        byte[] b = randomImage(32);
        int[] both = new int[2 * 784];
        System.arraycopy(pixels(a), 0, both, 0, 784);
        System.arraycopy(pixels(b), 0, both, 784, 784);
        // nested data, as row-major arrays
        int[][][][] nested = new int[2][1][28][28];
        for (int i = 0; i < 2 * 784; i++) {
            nested[i / 784][0][(i % 784) / 28][i % 28] = both[i];
        }
        ObjectNode req = request(tensor("IMAGES", "UINT8", new long[] {2, 1, 28, 28}, nested));
        req.put("id", "request-42");
        Reply r = infer("tiny", req);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode body = r.json();
        assertThat(body.get("model_name").asString()).isEqualTo("tiny");
        assertThat(body.get("model_version").asString()).isEqualTo("3");
        assertThat(body.get("id").asString()).isEqualTo("request-42");
        JsonNode v1 = post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(pngBase64(a), pngBase64(b)))).json();
        JsonNode outputs = body.get("outputs");
        assertThat(outputs.get(0).get("name").asString()).isEqualTo("LOG_P_NATS");
        assertThat(outputs.get(1).get("name").asString()).isEqualTo("BITS_PER_DIM");
        assertThat(outputs.get(2).get("name").asString()).isEqualTo("CLASS_PROBABILITIES");
        assertThat(outputs.get(2).get("shape").toString()).isEqualTo("[2,4]");
        for (int i = 0; i < 2; i++) {
            double want = v1.get("results").get(i).get("bits_per_dim").asDouble();
            assertThat(outputs.get(1).get("data").get(i).asDouble()).isCloseTo(want, within(1e-9 * want));
            assertThat(outputs.get(0).get("data").get(i).asDouble())
                    .isCloseTo(v1.get("results").get(i).get("log_p_nats").asDouble(), within(1e-9 * Math.abs(want) * 1000));
            assertThat(outputs.get(2).get("data").get(i * 4 + 2).asDouble())
                    .isCloseTo(v1.get("results").get(i).get("class_probabilities").get(2).asDouble(), within(1e-12));
        }

        // binary in and out, outputs chosen and ordered by the request; the same numbers
        String header = "{\"inputs\":[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[2,1,28,28],"
                + "\"parameters\":{\"binary_data_size\":1568}}],\"outputs\":[{\"name\":\"BITS_PER_DIM\",\"parameters\":"
                + "{\"binary_data\":true}},{\"name\":\"LOG_P_NATS\"}]}";
        byte[] raw = new byte[1568];
        System.arraycopy(a, 0, raw, 0, 784);
        System.arraycopy(b, 0, raw, 784, 784);
        Reply bin = inferBinary("tiny", header, raw);
        assertThat(bin.status()).as(bin.text()).isEqualTo(200);
        assertThat(bin.contentType()).startsWith("application/octet-stream");
        int headerLength = Integer.parseInt(bin.headers().firstValue(HEADER).orElseThrow());
        JsonNode h = readJson(bin.body(), headerLength);
        assertThat(h.get("outputs").get(0).get("name").asString()).isEqualTo("BITS_PER_DIM");
        assertThat(h.get("outputs").get(0).get("parameters").get("binary_data_size").asInt()).isEqualTo(16);
        assertThat(h.get("outputs").get(1).get("name").asString()).isEqualTo("LOG_P_NATS");
        assertThat(h.get("outputs").get(1).has("data")).as("JSON where not asked for binary").isTrue();
        assertThat(bin.body().length).isEqualTo(headerLength + 16);
        ByteBuffer buf = ByteBuffer.wrap(bin.body(), headerLength, 16).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(buf.getDouble()).isEqualTo(outputs.get(1).get("data").get(0).asDouble());
        assertThat(buf.getDouble()).isEqualTo(outputs.get(1).get("data").get(1).asDouble());
    }

    private static JsonNode readJson(byte[] body, int length) {
        return JSON.readTree(new String(body, 0, length, StandardCharsets.UTF_8));
    }

    @Test
    void encodeThenDecodeGivesTheImagesBackAndSampleIsV1sSample() {
        byte[] image = randomImage(40);
        ObjectNode req = request(tensor("IMAGES", "UINT8", new long[] {1, 1, 28, 28}, pixels(image)),
                tensor("CLASS", "INT64", new long[] {1}, new long[] {2}));
        req.putObject("parameters").put("binary_data_output", true);
        Reply enc = infer("tiny-encode", req);
        assertThat(enc.status()).as(enc.text()).isEqualTo(200);
        int headerLength = Integer.parseInt(enc.headers().firstValue(HEADER).orElseThrow());
        JsonNode h = readJson(enc.body(), headerLength);
        assertThat(h.get("outputs").findValuesAsString("name")).containsExactly("EPS_0", "EPS_1", "LOG_P_NATS", "BITS_PER_DIM", "CLASS");
        int eps0 = h.get("outputs").get(0).get("parameters").get("binary_data_size").asInt();
        int eps1 = h.get("outputs").get(1).get("parameters").get("binary_data_size").asInt();
        assertThat(eps0).isEqualTo(4 * 2 * 14 * 14);
        assertThat(eps1).isEqualTo(4 * 8 * 7 * 7);
        byte[] e0 = java.util.Arrays.copyOfRange(enc.body(), headerLength, headerLength + eps0);
        byte[] e1 = java.util.Arrays.copyOfRange(enc.body(), headerLength + eps0, headerLength + eps0 + eps1);
        // the same latents as /v1 encode
        JsonNode v1 = post("/v1/models/tiny/encode", Map.of("images", List.of(pngBase64(image)), "classes", List.of(2))).json();
        float first = ByteBuffer.wrap(e0).order(ByteOrder.LITTLE_ENDIAN).getFloat();
        assertThat(first).isEqualTo((float) v1.get("results").get(0).get("latents").get(0).get("eps").get(0).get(0).get(0).asDouble());

        String header = "{\"inputs\":[{\"name\":\"EPS_0\",\"datatype\":\"FP32\",\"shape\":[1,2,14,14],\"parameters\":{\"binary_data_size\":"
                + eps0 + "}},{\"name\":\"EPS_1\",\"datatype\":\"FP32\",\"shape\":[1,8,7,7],\"parameters\":{\"binary_data_size\":" + eps1
                + "}},{\"name\":\"CLASS\",\"datatype\":\"INT64\",\"shape\":[1],\"data\":[2]}],"
                + "\"outputs\":[{\"name\":\"IMAGES\",\"parameters\":{\"binary_data\":true}}]}";
        Reply dec = inferBinary("tiny-decode", header, e0, e1);
        assertThat(dec.status()).as(dec.text()).isEqualTo(200);
        int dh = Integer.parseInt(dec.headers().firstValue(HEADER).orElseThrow());
        assertThat(java.util.Arrays.copyOfRange(dec.body(), dh, dh + 784)).as("decode(encode(x)) = x").containsExactly(image);

        // sample: same seed and temperature as /v1, the same images; temperatures per image
        ObjectNode s = request(tensor("TEMPERATURE", "FP32", new long[] {3}, new float[] {0.7f, 0.7f, 0.7f}),
                tensor("SEED", "INT64", new long[] {1}, new long[] {5}), tensor("CLASS", "INT64", new long[] {1}, new long[] {1}));
        Reply sampled = infer("tiny-sample", s);
        assertThat(sampled.status()).as(sampled.text()).isEqualTo(200);
        JsonNode images = sampled.json().get("outputs").get(0);
        assertThat(images.get("shape").toString()).isEqualTo("[3,1,28,28]");
        JsonNode v1Samples = post("/v1/models/tiny/sample", Map.of("n", 3, "temperature", 0.7, "seed", 5, "class", 1)).json();
        for (int i = 0; i < 3; i++) {
            byte[] want = decodePng(v1Samples.get("images").get(i).get("png").asString());
            for (int p = 0; p < 784; p += 97) {
                assertThat(images.get("data").get(i * 784 + p).asInt()).isEqualTo(want[p] & 0xff);
            }
        }
        assertThat(infer("tiny-sample", s).json().get("outputs").toString()).as("same seed, same images")
                .isEqualTo(sampled.json().get("outputs").toString());
        // curl -d without a Content-Type sends a form's: the body is read as the protocol's all the same
        Reply form = send(HttpRequest.newBuilder(uri("/v2/models/tiny-sample/infer")).header("Content-Type",
                "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(s))).build());
        assertThat(form.status()).as(form.text()).isEqualTo(200);
        assertThat(form.json().get("outputs").toString()).isEqualTo(sampled.json().get("outputs").toString());
    }

    @Test
    void everyBadRequestIsA400WithTheReason() {
        String img = "{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[1,1,28,28],\"data\":" + java.util.Arrays.toString(new int[784]) + "}";
        error(infer("tiny", "{not json"), 400, "not valid JSON");
        error(infer("tiny", "[]"), 400, "JSON object");
        error(infer("tiny", "{\"inputs\": []}"), 400, "inputs");
        error(infer("tiny", "{\"inputs\":[" + img.replace("UINT8", "FP32") + "]}"), 400, "must be UINT8");
        error(infer("tiny", "{\"inputs\":[" + img.replace("UINT8", "UINT4") + "]}"), 400, "UINT4");
        error(infer("tiny", "{\"inputs\":[" + img.replace("[1,1,28,28]", "[1,1,27,28]") + "]}"), 400, "shape");
        error(infer("tiny", "{\"inputs\":[" + img.replace("[1,1,28,28]", "[1,1,28,28,1]") + "]}"), 400, "shape");
        error(infer("tiny", "{\"inputs\":[" + img.replace("[1,1,28,28]", "[2,1,28,28]") + "]}"), 400, "784 values for a shape of 1568");
        error(infer("tiny", "{\"inputs\":[" + img.replace("[1,1,28,28]", "[4000000000000,4000000000000,28,28]") + "]}"), 400, "too large");
        error(infer("tiny", "{\"inputs\":[" + img.replace("[1,1,28,28]", "[1,1,28,-28]") + "]}"), 400, "shape");
        error(infer("tiny", "{\"inputs\":[" + img.replace("\"data\":[0,", "\"data\":[256,") + "]}"), 400, "0..255");
        error(infer("tiny", "{\"inputs\":[" + img.replace("\"data\":[0,", "\"data\":[-1,") + "]}"), 400, "0..255");
        error(infer("tiny", "{\"inputs\":[" + img.replace("IMAGES", "PICTURES") + "]}"), 400, "unknown input 'PICTURES'");
        error(infer("tiny-decode", "{\"inputs\":[{\"name\":\"EPS_0\",\"datatype\":\"FP32\",\"shape\":[1,2,14,14],\"data\":"
                + java.util.Arrays.toString(new float[392]) + "}]}"), 400, "missing input 'EPS_1'");
        error(infer("tiny", "{\"inputs\":[" + img + "],\"outputs\":[{\"name\":\"NOPE\"}]}"), 400, "unknown output 'NOPE'");
        error(infer("tiny-encode", "{\"inputs\":[" + img + ",{\"name\":\"CLASS\",\"datatype\":\"INT64\",\"shape\":[1],\"data\":[7]}]}"),
                400, "CLASS", "0..3");
        error(infer("tiny-sample", "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[9.5]}]}"),
                400, "temperature");
        // latents that are not finite, in binary (JSON has no NaN)
        byte[] nan = new byte[4 * 392];
        ByteBuffer.wrap(nan).order(ByteOrder.LITTLE_ENDIAN).putFloat(4 * 7, Float.NaN);
        byte[] zeros = new byte[4 * 392];
        String eps = "{\"inputs\":[{\"name\":\"EPS_0\",\"datatype\":\"FP32\",\"shape\":[1,2,14,14],\"parameters\":{\"binary_data_size\":1568}},"
                + "{\"name\":\"EPS_1\",\"datatype\":\"FP32\",\"shape\":[1,8,7,7],\"parameters\":{\"binary_data_size\":1568}}]}";
        error(inferBinary("peer-decode", eps, nan, zeros), 400, "finite");
        // binary sizes that do not match the body, a header longer than the body
        error(inferBinary("peer-decode", eps, zeros), 400, "binary data announced");
        error(inferBinary("peer-decode", eps, zeros, zeros, new byte[3]), 400, "after the tensors");
        error(inferBinary("peer-decode", eps.replace("1568}},{", "1500}},{"), zeros, zeros), 400, "binary_data_size is 1500");
        error(send(HttpRequest.newBuilder(uri("/v2/models/peer-decode/infer")).header(HEADER, "9999")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build()), 400, "9999");
        error(send(HttpRequest.newBuilder(uri("/v2/models/peer-decode/infer")).header(HEADER, "lots")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build()), 400, "not a number");
        // unknown model or version, body over the limit (1 MB here)
        error(infer("nope-encode", request(tensor("IMAGES", "UINT8", new long[] {1, 1, 28, 28}, new int[784]))), 404, "nope-encode");
        error(post("/v2/models/tiny/versions/7/infer", "{\"inputs\":[" + img + "]}"), 404, "no version '7'");
        error(post("/v2/models/tiny/infer", "{\"pad\":\"" + "x".repeat(1_100_000) + "\"}"), 413);
        error(get("/v2/models/tiny/infer"), 405);
        error(get("/v2/nothing-here"), 404);
    }

    @Test
    void theServersOwnErrorsAnswerInEachApisForm() throws Exception {
        // an encoded slash never reaches the application: Tomcat answers, in the API's form
        String v2 = raw("POST /v2/models/..%2F..%2Fetc%2Fpasswd/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assertThat(v2).startsWith("HTTP/1.1 400").contains("application/json").contains("{\"error\":");
        String v1 = raw("POST /v1/models/..%2F..%2Fetc%2Fpasswd/sample HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assertThat(v1).startsWith("HTTP/1.1 400").contains("application/problem+json").contains("\"status\":400")
                .doesNotContain("<html");
        String badEncoding = raw("GET /v1/models/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(badEncoding).startsWith("HTTP/1.1 400").contains("application/problem+json").doesNotContain("<html");
        String hugeHeader = raw("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(20_000) + "\r\nConnection: close\r\n\r\n");
        assertThat(hugeHeader).startsWith("HTTP/1.1 4").contains("{\"error\":").doesNotContain("<html");
    }

    private String raw(String request) throws Exception {
        try (Socket s = new Socket("localhost", port)) {
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void fractionalNumbersForIntegerFieldsAreRefusedNamingTheField() {
        Reply r = post("/v1/models/tiny/sample", "{\"n\": 1.5}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.contentType()).startsWith("application/problem+json");
        assertThat(r.json().get("detail").asString()).contains("field 'n'").contains("1.5");
        Reply nested = post("/v1/models/tiny/interpolate", "{\"from\": {\"image\": \"x\"}, \"to\": {\"image\": \"x\"}, \"steps\": 4.2}");
        assertThat(nested.status()).isEqualTo(400);
        assertThat(nested.json().get("detail").asString()).contains("field 'steps'");
        Reply decode = post("/v1/models/tiny/decode", "{\"items\": [{\"latents\": [], \"class\": 0.5}]}");
        assertThat(decode.status()).isEqualTo(400);
        assertThat(decode.json().get("detail").asString()).contains("field 'items[0].class'");
        List<String> images = new ArrayList<>();
        images.add(Base64.getEncoder().encodeToString(new byte[] {1}));
        assertThat(post("/v1/models/tiny/log-likelihood", Map.of("images", images, "classes", List.of(1.0))).status())
                .as("1.0 is a fractional number too").isEqualTo(400);
    }

    @Test
    void statisticsCountWhatWasComputedAsTritonReportsThem() {
        int[] px = pixels(TestModels.blob(3));
        for (int i = 0; i < 3; i++) {
            assertThat(infer("tiny-encode", request(tensor("IMAGES", "UINT8", new long[] {1, 1, 28, 28}, px))).status()).isEqualTo(200);
        }
        JsonNode one = get("/v2/models/tiny-encode/stats").json().get("model_stats").get(0);
        assertThat(one.get("name").asString()).isEqualTo("tiny-encode");
        assertThat(one.get("version").asString()).isEqualTo("3");
        JsonNode s = one.get("inference_stats");
        assertThat(s.get("success").get("count").asLong()).isGreaterThanOrEqualTo(3);
        assertThat(s.get("success").get("ns").asLong()).isPositive();
        assertThat(s.get("queue").get("count").asLong()).isGreaterThanOrEqualTo(3);
        assertThat(s.get("compute_infer").get("ns").asLong()).isPositive();
        assertThat(one.get("inference_count").asLong()).isGreaterThanOrEqualTo(3);
        assertThat(one.get("execution_count").asLong()).isPositive().isLessThanOrEqualTo(one.get("inference_count").asLong());
        long perSize = 0;
        for (JsonNode b : one.get("batch_stats")) {
            perSize += b.get("compute_infer").get("count").asLong();
        }
        assertThat(perSize).isEqualTo(one.get("execution_count").asLong());
        assertThat(one.get("last_inference").asLong()).isGreaterThan(System.currentTimeMillis() - 600_000);
        assertThat(get("/v2/models/tiny/versions/3/stats").status()).isEqualTo(200);

        JsonNode all = get("/v2/models/stats").json().get("model_stats");
        assertThat(all.findValuesAsString("name")).contains("tiny", "peer").doesNotContain("broken");
        error(get("/v2/models/nope/stats"), 404, "nope");
        error(get("/v2/models/tiny/versions/9/stats"), 404, "no version '9'");
        error(get("/v2/models/broken/stats"), 503, "broken");
    }

    @Test
    void priorityAndTimeoutAreCheckedOnBothApis() {
        int[] px = pixels(TestModels.blob(4));
        ObjectNode r = request(tensor("IMAGES", "UINT8", new long[] {1, 1, 28, 28}, px));
        r.putObject("parameters").put("priority", 1).put("timeout", 30_000_000);
        assertThat(infer("tiny", r).status()).isEqualTo(200);
        ((ObjectNode) r.get("parameters")).put("priority", 3);
        error(infer("tiny", r), 400, "priority 3", "1 (the highest) to 2");
        ((ObjectNode) r.get("parameters")).put("priority", 1).put("timeout", -5);
        error(infer("tiny", r), 400, "parameters.timeout");
        ((ObjectNode) r.get("parameters")).put("timeout", 0);
        error(infer("tiny", r), 503, "the deadline it set");

        String body = JSON.writeValueAsString(Map.of("images", List.of(pngBase64(TestModels.blob(4)))));
        for (String[] header : new String[][] {{"X-Request-Priority", "1", "200"}, {"X-Request-Priority", "7", "400"},
                {"X-Request-Priority", "x", "400"}, {"X-Request-Timeout-Ms", "60000", "200"}, {"X-Request-Timeout-Ms", "-1", "400"},
                {"X-Request-Timeout-Ms", "0", "503"}}) {
            Reply v1 = send(HttpRequest.newBuilder(uri("/v1/models/tiny/log-likelihood")).header("Content-Type", "application/json")
                    .header(header[0], header[1]).POST(HttpRequest.BodyPublishers.ofString(body)).build());
            assertThat(v1.status()).as(header[0] + ": " + header[1] + " " + v1.text()).isEqualTo(Integer.parseInt(header[2]));
            if (v1.status() != 200) {
                assertThat(v1.contentType()).startsWith("application/problem+json");
            }
        }
    }
}
