package dev.glowserve.api;

import dev.glowserve.artifact.ArtifactSource;
import dev.glowserve.artifact.Calibration;
import dev.glowserve.ood.Complexity;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code /v1/models/{m}/ood} and the V2 model {@code m-ood} as a client calls them: every figure recomputed here
 * from /log-likelihood, the PNG compressor and the calibration file; every bad input a problem.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OodApiTest extends ApiTestBase {

    static Calibration calibration() {
        return Calibration.read(ArtifactSource.folder(Path.of(TestModels.tiny())));
    }

    static List<byte[]> images() {
        return List.of(TestModels.blob(5), randomImage(6), new byte[784], TestModels.blob(7));
    }

    @Test
    void everyFigureIsTheCalibrationsAnswerForTheImagesScores() {
        Calibration c = calibration();
        List<String> pngs = images().stream().map(ApiTestBase::pngBase64).toList();
        JsonNode scores = post("/v1/models/tiny/log-likelihood", Map.of("images", pngs)).json().get("results");
        for (String method : new String[] {"complexity", "likelihood", "typicality"}) {
            Reply r = post("/v1/models/tiny/ood", Map.of("images", pngs, "method", method, "alpha", 0.1));
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            JsonNode body = r.json();
            assertThat(body.get("method").asString()).isEqualTo(method);
            assertThat(body.get("alpha").asDouble()).isEqualTo(0.1);
            for (int i = 0; i < 4; i++) {
                JsonNode res = body.get("results").get(i);
                double bpd = scores.get(i).get("bits_per_dim").asDouble();
                double cx = Complexity.PNG_UP.bitsPerDim(images().get(i), 1, 28, 28);
                assertThat(res.get("bits_per_dim").asDouble()).isEqualTo(bpd);
                assertThat(res.get("complexity_bits_per_dim").asDouble()).isEqualTo(cx);
                double score = switch (method) {
                    case "complexity" -> bpd - cx;
                    case "likelihood" -> bpd;
                    default -> Math.abs(bpd - c.meanBitsPerDim());
                };
                assertThat(res.get("score").asDouble()).isEqualTo(score);
                double p = Arrays.stream(c.sorted(method)).filter(h -> h >= score).count() / (double) c.images();
                assertThat(res.get("p_value").asDouble()).isEqualTo(p);
                assertThat(res.get("outlier").asBoolean()).isEqualTo(p < 0.1);
            }
            assertThat(body.has("batch")).isEqualTo(method.equals("typicality"));
        }
        // orientation: the smaller p-value of complexity and of bits/dim(x) − bits/dim(x upside down), calibrated
        List<String> turnedPngs = images().stream().map(im -> pngBase64(dev.glowserve.ood.OutOfDistribution.upsideDown(im, 1, 28, 28)))
                .toList();
        JsonNode turned = post("/v1/models/tiny/log-likelihood", Map.of("images", turnedPngs)).json().get("results");
        JsonNode orientation = post("/v1/models/tiny/ood", Map.of("images", pngs, "method", "orientation")).json();
        assertThat(orientation.get("method").asString()).isEqualTo("orientation");
        for (int i = 0; i < 4; i++) {
            double bpd = scores.get(i).get("bits_per_dim").asDouble();
            double cx = Complexity.PNG_UP.bitsPerDim(images().get(i), 1, 28, 28);
            double up = turned.get(i).get("bits_per_dim").asDouble();
            double pc = Arrays.stream(c.sorted("complexity")).filter(h -> h >= bpd - cx).count() / (double) c.images();
            double pu = Arrays.stream(c.sorted("upside-down")).filter(h -> h >= bpd - up).count() / (double) c.images();
            double score = 1 - Math.min(pc, pu);
            JsonNode res = orientation.get("results").get(i);
            assertThat(res.get("score").asDouble()).isEqualTo(score);
            assertThat(res.get("p_value").asDouble()).isEqualTo(Arrays.stream(c.sorted("orientation")).filter(h -> h >= score).count()
                    / (double) c.images());
        }
        JsonNode batch = post("/v1/models/tiny/ood", Map.of("images", pngs, "method", "typicality")).json().get("batch");
        assertThat(batch.get("size").asInt()).isEqualTo(4);
        double mean = 0;
        for (int i = 0; i < 4; i++) {
            mean += scores.get(i).get("bits_per_dim").asDouble() / 4;
        }
        assertThat(batch.get("score").asDouble()).isCloseTo(Math.abs(mean - c.meanBitsPerDim()), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(batch.get("outlier").asBoolean()).isEqualTo(batch.get("p_value").asDouble() < 0.05);

        // the defaults: complexity at alpha 0.05; multipart gives the same answer as JSON
        JsonNode json = post("/v1/models/tiny/ood", Map.of("images", pngs)).json();
        assertThat(json.get("method").asString()).isEqualTo("complexity");
        assertThat(json.get("alpha").asDouble()).isEqualTo(0.05);
        Reply multipart = multipart("/v1/models/tiny/ood", images(), Map.of());
        assertThat(multipart.status()).as(multipart.text()).isEqualTo(200);
        assertThat(multipart.json().get("results").toString()).isEqualTo(json.get("results").toString());
        Reply likelihood = multipart("/v1/models/tiny/ood", images(), Map.of("method", "likelihood", "alpha", "0.2"));
        assertThat(likelihood.json().get("method").asString()).isEqualTo("likelihood");
        assertThat(likelihood.json().get("alpha").asDouble()).isEqualTo(0.2);
        // /log-likelihood takes uploads too
        Reply upload = multipart("/v1/models/tiny/log-likelihood", images(), Map.of());
        assertThat(upload.json().get("results").get(1).get("bits_per_dim").asDouble()).isEqualTo(scores.get(1).get("bits_per_dim").asDouble());
    }

    @Test
    void theV2ModelGivesV1sVerdicts() {
        List<byte[]> imgs = images();
        int[] pixels = new int[4 * 784];
        for (int i = 0; i < 4; i++) {
            for (int p = 0; p < 784; p++) {
                pixels[i * 784 + p] = imgs.get(i)[p] & 0xff;
            }
        }
        String req = "{\"inputs\":[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[4,1,28,28],\"data\":" + Arrays.toString(pixels)
                + "}],\"parameters\":{\"method\":\"likelihood\",\"alpha\":0.3}}";
        Reply v2 = post("/v2/models/tiny-ood/infer", req);
        assertThat(v2.status()).as(v2.text()).isEqualTo(200);
        JsonNode v1 = post("/v1/models/tiny/ood", Map.of("images", imgs.stream().map(ApiTestBase::pngBase64).toList(),
                "method", "likelihood", "alpha", 0.3)).json().get("results");
        JsonNode out = v2.json().get("outputs");
        assertThat(out.findValuesAsString("name")).containsExactly("SCORE", "P_VALUE", "OUTLIER");
        assertThat(out.get(2).get("datatype").asString()).isEqualTo("BOOL");
        for (int i = 0; i < 4; i++) {
            assertThat(out.get(0).get("data").get(i).asDouble()).isEqualTo(v1.get(i).get("score").asDouble());
            assertThat(out.get(1).get("data").get(i).asDouble()).isEqualTo(v1.get(i).get("p_value").asDouble());
            assertThat(out.get(2).get("data").get(i).asBoolean()).isEqualTo(v1.get(i).get("outlier").asBoolean());
        }
        assertThat(get("/v2/models/tiny-ood").json().get("outputs").toString()).contains("\"OUTLIER\",\"datatype\":\"BOOL\"");
        Reply bad = post("/v2/models/tiny-ood/infer", req.replace("\"likelihood\"", "7"));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().get("error").asString()).contains("parameters.method");
        Reply peer = post("/v2/models/peer-ood/infer", req.replace("[4,1,28,28]", "[4,1,28,28]"));
        assertThat(peer.status()).isEqualTo(409);
        assertThat(peer.json().propertyNames()).containsExactly("error");
        assertThat(peer.json().get("error").asString()).contains("glow-serve calibrate");
    }

    @Test
    void theCalibrationIsServedAsHistograms() {
        JsonNode info = get("/v1/models/tiny/ood").json();
        Calibration c = calibration();
        assertThat(info.get("images").asInt()).isEqualTo(300);
        assertThat(info.get("source").asString()).isEqualTo("300 blobs");
        assertThat(info.get("default_method").asString()).isEqualTo("complexity");
        for (JsonNode h : info.get("histograms")) {
            int total = 0;
            for (JsonNode n : h.get("counts")) {
                total += n.asInt();
            }
            assertThat(total).isEqualTo(300);
            assertThat(h.get("edges").size()).isEqualTo(h.get("counts").size() + 1);
            double above = h.get("flagged_above").asDouble();
            double[] held = c.sorted(h.get("method").asString());
            assertThat(Arrays.stream(held).filter(s -> s > above).count() / 300.0).as("p < 0.05 above it").isLessThan(0.05);
            assertThat(Arrays.stream(held).filter(s -> s >= above).count() / 300.0).as("and not below it").isGreaterThanOrEqualTo(0.05);
        }
    }

    @Test
    void badInputIsAProblemAndAModelWithoutCalibrationSaysHowToMakeOne() {
        String png = pngBase64(TestModels.blob(1));
        problem(post("/v1/models/tiny/ood", Map.of("images", List.of(png), "method", "magic")), 422, "method 'magic'");
        problem(post("/v1/models/tiny/ood", Map.of("images", List.of(png), "alpha", 1.5)), 422, "alpha = 1.5");
        problem(post("/v1/models/tiny/ood", Map.of("images", List.of(png), "alpha", 0)), 422, "alpha = 0.0");
        problem(post("/v1/models/tiny/ood", Map.of("images", List.of())), 400, "images is missing or empty");
        problem(post("/v1/models/tiny/ood", Map.of("images", List.of("***not base64***"))), 400, "not valid base64");
        problem(post("/v1/models/tiny/ood", Map.of("images", List.of(java.util.Base64.getEncoder().encodeToString(
                dev.glowserve.data.Png.encode(new byte[100], 1, 10, 10))))), 422, "28");
        problem(post("/v1/models/tiny/ood", "{\"images\": 3}"), 400, "field 'images'");
        problem(post("/v1/models/tiny/ood", "{\"images\": [\"" + png + "\"], \"alpha\": \"low\"}"), 400, "field 'alpha'");
        problem(post("/v1/models/nope/ood", Map.of("images", List.of(png))), 404, "nope");
        problem(post("/v1/models/broken/ood", Map.of("images", List.of(png))), 503, "unavailable");
        problem(post("/v1/models/peer/ood", Map.of("images", List.of(png))), 409, "glow-serve calibrate --model DIR --idx FILE");
        problem(get("/v1/models/peer/ood"), 409, "no out-of-distribution calibration");
        problem(multipart("/v1/models/tiny/ood", List.of(), Map.of("method", "likelihood")), 400, "images");
    }

    private static void problem(Reply r, int status, String detail) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.contentType()).startsWith("application/problem+json");
        assertThat(r.json().get("detail").asString()).contains(detail);
        assertThat(r.text()).doesNotContain("Exception").doesNotContain("dev.glowserve");
    }

    /** A multipart/form-data request: PNG parts named images, and text fields. */
    Reply multipart(String path, List<byte[]> images, Map<String, String> fields) {
        String boundary = "glowboundary42";
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (int i = 0; i < images.size(); i++) {
            body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"images\"; filename=\"" + i
                    + ".png\"\r\nContent-Type: image/png\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            body.writeBytes(dev.glowserve.data.Png.encode(images.get(i), 1, 28, 28));
            body.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
        }
        fields.forEach((k, v) -> body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v
                + "\r\n").getBytes(StandardCharsets.UTF_8)));
        body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build());
    }
}
