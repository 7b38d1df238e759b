package dev.glowserve.artifact;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.Encoding;
import dev.glowserve.flow.InferencePass;
import dev.glowserve.flow.InferenceSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The artifact written by an independent PyTorch Glow loads and reproduces its reference numbers. */
class PeerReferenceTest {

    static final Path PEER = Path.of("src/test/resources/fixtures/peer-tiny");

    static ModelArtifact.Loaded model;
    static JsonNode reference;

    @BeforeAll
    static void load() throws Exception {
        model = ModelArtifact.load(PEER, NDManager.newBaseManager(), DataType.FLOAT32);
        reference = ModelArtifact.JSON.readTree(PEER.resolve("reference.json").toFile());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static float[] midBinImages(Quantization q) {
        JsonNode images = reference.get("images_u8");
        float[] x = new float[images.size() * 784];
        for (int i = 0; i < images.size(); i++) {
            byte[] px = new byte[784];
            for (int p = 0; p < 784; p++) {
                px[p] = (byte) images.get(i).get(p).asInt();
            }
            q.midBin(px, x, i * 784);
        }
        return x;
    }

    /** The served (TorchScript) pass and the eager reference alike. */
    @ParameterizedTest(name = "script={0}")
    @ValueSource(booleans = {true, false})
    void reproducesLogLikelihoodLatentsAndImages(boolean script) {
        Quantization q = new Quantization(8);
        int n = reference.get("images_u8").size();
        try (InferencePass glow = InferencePass.open(model.glow(), new InferenceSettings(script, true));
                NDScope scope = new NDScope(); NDManager m = model.glow().manager().newSubManager()) {
            NDArray x = m.create(midBinImages(q), new Shape(n, 1, 28, 28));
            Encoding enc = glow.encode(x, null);
            float[] logDet = enc.logDet().toFloatArray();
            float[] prior = enc.priorLogP().toFloatArray();
            for (int i = 0; i < n; i++) {
                double logP = q.imageLogP(prior[i] + logDet[i], 784);
                double want = reference.get("log_p_nats").get(i).asDouble();
                assertThat(logP).as("log p image %d", i).isCloseTo(want, within(Math.abs(want) * 1e-4));
                assertThat(Quantization.bitsPerDim(logP, 784)).isCloseTo(reference.get("bits_per_dim").get(i).asDouble(), within(1e-3));
                assertThat((double) logDet[i]).isCloseTo(reference.get("log_det").get(i).asDouble(), within(1e-2));
                assertThat((double) prior[i]).isCloseTo(reference.get("prior_log_p_nats").get(i).asDouble(), within(1e-2));
            }
            JsonNode shapes = reference.get("eps_shapes");
            double maxErr = 0;
            for (int l = 0; l < shapes.size(); l++) {
                float[] eps = enc.eps().get(l).toFloatArray();
                int per = eps.length / n;
                for (int i = 0; i < n; i++) {
                    JsonNode want = reference.get("eps").get(i).get(l);
                    assertThat(want.size()).isEqualTo(per);
                    for (int j = 0; j < per; j++) {
                        maxErr = Math.max(maxErr, Math.abs(eps[i * per + j] - want.get(j).asDouble()));
                    }
                }
            }
            assertThat(maxErr).as("max |eps - reference|").isLessThan(1e-4);

            // decode the reference eps (not ours) and get the images back
            List<NDArray> refEps = new ArrayList<>();
            for (int l = 0; l < shapes.size(); l++) {
                int c = shapes.get(l).get(0).asInt(), h = shapes.get(l).get(1).asInt(), w = shapes.get(l).get(2).asInt();
                float[] flat = new float[n * c * h * w];
                for (int i = 0; i < n; i++) {
                    JsonNode e = reference.get("eps").get(i).get(l);
                    for (int j = 0; j < c * h * w; j++) {
                        flat[i * c * h * w + j] = (float) e.get(j).asDouble();
                    }
                }
                refEps.add(m.create(flat, new Shape(n, c, h, w)));
            }
            float[] decoded = glow.decode(new NDList(refEps), null).toFloatArray();
            for (int i = 0; i < n; i++) {
                byte[] px = q.toPixels(decoded, i * 784, 784);
                for (int p = 0; p < 784; p++) {
                    assertThat(px[p] & 0xff).as("image %d pixel %d", i, p)
                            .isEqualTo(reference.get("images_u8").get(i).get(p).asInt());
                }
            }
        }
    }
}
