package dev.glowserve.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Inputs as a serving signal: every screened image's p-value and flag in the metrics and the drift window, and the
 * ood-policy guardrail's three modes on /v1 and V2. The tiny model (calibrated on blobs) serves with
 * ood-policy=flag; requests ask for reject; peer has no calibration.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class DriftApiTest extends ApiTestBase {

    @DynamicPropertySource
    static void policy(DynamicPropertyRegistry r) {
        r.add("glow.models[0].ood-policy", () -> "flag");
        r.add("glow.drift.window-size", () -> "50");
    }

    /** Blobs like the calibration's, and images nothing like them: noise, black, a blob inverted. */
    static List<byte[]> candidates() {
        List<byte[]> images = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            images.add(TestModels.blob(i));
        }
        images.add(randomImage(5));
        images.add(new byte[784]);
        byte[] inverted = TestModels.blob(9);
        for (int i = 0; i < inverted.length; i++) {
            inverted[i] = (byte) (255 - (inverted[i] & 0xff));
        }
        images.add(inverted);
        return images;
    }

    JsonNode score(List<byte[]> images, String policy) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("images", images.stream().map(ApiTestBase::pngBase64).toList()));
        if (policy != null) {
            body.put("ood_policy", policy);
        }
        Reply r = post("/v1/models/tiny/log-likelihood", body);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json().get("results");
    }

    @Test
    void flagAnswersEachVerdictRejectRefusesOutliersOffCannotLowerIt() {
        List<byte[]> images = candidates();
        JsonNode flagged = score(images, null); // the model's own policy: flag
        byte[] outlier = null;
        byte[] inlier = null;
        for (int i = 0; i < images.size(); i++) {
            JsonNode ood = flagged.get(i).get("ood");
            assertThat(ood).as("result %d has its verdict", i).isNotNull();
            double p = ood.get("p_value").asDouble();
            assertThat(p).isBetween(0.0, 1.0);
            assertThat(ood.get("outlier").asBoolean()).isEqualTo(p < 0.05);
            if (ood.get("outlier").asBoolean() && outlier == null) {
                outlier = images.get(i);
            }
            if (p >= 0.2 && inlier == null) {
                inlier = images.get(i);
            }
        }
        assertThat(outlier).as("one of noise, black, inverted is flagged").isNotNull();
        assertThat(inlier).as("a blob like the calibration's is not").isNotNull();
        assertThat(score(images, "off").get(0).has("ood")).as("a request cannot turn the model's flag off").isTrue();

        // reject: the outlier refuses the whole request, saying why; an inlier passes, with its verdict
        Reply refused = post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(pngBase64(inlier), pngBase64(outlier)),
                "ood_policy", "reject"));
        assertThat(refused.status()).as(refused.text()).isEqualTo(422);
        assertThat(refused.contentType()).startsWith("application/problem+json");
        assertThat(refused.json().get("type").asString()).endsWith("out-of-distribution");
        assertThat(refused.json().get("detail").asString()).contains("image 1").contains("p-value").contains("ood-policy=reject");
        Reply encoded = post("/v1/models/tiny/encode", Map.of("images", List.of(pngBase64(inlier)), "ood_policy", "reject"));
        assertThat(encoded.status()).as(encoded.text()).isEqualTo(200);
        assertThat(encoded.json().get("results").get(0).get("ood").get("outlier").asBoolean()).isFalse();
        // an encode result with its verdict decodes as it is
        Reply decoded = post("/v1/models/tiny/decode", Map.of("items", List.of(encoded.json().get("results").get(0))));
        assertThat(decoded.status()).as(decoded.text()).isEqualTo(200);
        Reply withClass = post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(pngBase64(inlier)), "classes", List.of(1),
                "ood_policy", "reject"));
        assertThat(withClass.status()).isEqualTo(422);
        assertThat(withClass.json().get("detail").asString()).contains("without classes");
        assertThat(post("/v1/models/tiny/log-likelihood", Map.of("images", List.of(pngBase64(inlier)), "ood_policy", "maybe")).status())
                .isEqualTo(400);
        Reply uncalibrated = post("/v1/models/peer/log-likelihood", Map.of("images", List.of(pngBase64(inlier)), "ood_policy", "flag"));
        assertThat(uncalibrated.status()).isEqualTo(409);
        assertThat(post("/v1/models/peer/log-likelihood", Map.of("images", List.of(pngBase64(inlier)))).json().get("results").get(0)
                .has("ood")).as("peer's policy is off").isFalse();

        // V2: the verdicts are outputs (and the metadata lists them), a rejection is a 400 {"error"}
        JsonNode meta = get("/v2/models/tiny").json();
        assertThat(meta.get("outputs").findValuesAsString("name")).contains("OOD_P_VALUE", "OOD_OUTLIER");
        ObjectNode v2 = V2ProtocolTest.request(V2ProtocolTest.tensor("IMAGES", "UINT8", new long[] {1, 1, 28, 28},
                V2ProtocolTest.pixels(outlier)));
        Reply flaggedV2 = post("/v2/models/tiny/infer", v2);
        assertThat(flaggedV2.status()).as(flaggedV2.text()).isEqualTo(200);
        JsonNode outputs = flaggedV2.json().get("outputs");
        assertThat(outputs.findValuesAsString("name")).contains("OOD_P_VALUE", "OOD_OUTLIER");
        for (JsonNode o : outputs) {
            if (o.get("name").asString().equals("OOD_OUTLIER")) {
                assertThat(o.get("data").get(0).asBoolean()).isTrue();
            }
        }
        v2.putObject("parameters").put("ood_policy", "reject");
        Reply rejectedV2 = post("/v2/models/tiny/infer", v2);
        assertThat(rejectedV2.status()).isEqualTo(400);
        assertThat(rejectedV2.json().get("error").asString()).contains("ood-policy=reject");
    }

    @Test
    void theDriftWindowAndTheMetricsSeeEveryScreenedInput() {
        JsonNode before = get("/v1/models/tiny/drift").json();
        assertThat(before.get("window_size").asInt()).isEqualTo(50);
        List<byte[]> blobs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            blobs.add(TestModels.blob(100 + i));
        }
        score(blobs, null);
        assertThat(post("/v1/models/tiny/ood", Map.of("images", List.of(pngBase64(blobs.get(0))))).status()).isEqualTo(200);
        JsonNode after = get("/v1/models/tiny/drift").json();
        assertThat(after.get("inputs").asInt()).isEqualTo(Math.min(50, before.get("inputs").asInt() + 7));
        assertThat(after.get("method").asString()).isEqualTo("complexity");
        assertThat(after.get("ood_policy").asString()).isEqualTo("flag");
        assertThat(after.get("p_value").asDouble()).isBetween(0.0, 1.0);
        assertThat(after.get("p_value").asDouble()).isEqualTo(Math.min(1, 2 * Math.min(after.get("binomial_p").asDouble(),
                after.get("ks_p").asDouble())));
        assertThat(after.get("histogram").get("edges").size()).isEqualTo(25);
        assertThat(after.get("histogram").get("window").size()).isEqualTo(24);
        assertThat(after.get("histogram").get("calibration").size()).isEqualTo(24);
        Reply peer = get("/v1/models/peer/drift");
        assertThat(peer.status()).isEqualTo(409);
        assertThat(peer.json().get("detail").asString()).contains("glow-serve calibrate");

        String metrics = management("/actuator/prometheus").text();
        assertThat(metrics).contains("glow_input_bits_per_dim_bucket{", "glow_input_ood_p_value_bucket{", "glow_input_flagged_total{",
                "glow_drift_p_value{", "test=\"combined\"", "glow_drift_window_inputs{");
        assertThat(metrics).contains("glow_input_bits_per_dim_count{application=\"glow-serve\",model=\"peer\"")
                .as("an uncalibrated model has no p-values").doesNotContain("glow_input_ood_p_value_count{application=\"glow-serve\",model=\"peer\"");
    }
}
