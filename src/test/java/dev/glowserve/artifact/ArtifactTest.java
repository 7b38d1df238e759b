package dev.glowserve.artifact;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.FlowTestSupport;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ArtifactTest {

    static final GlowConfig CONFIG = new GlowConfig(1, 8, 8, 2, 2, 8, true, true, 3);

    @TempDir
    Path tmp;

    private Path savedModel() throws IOException {
        Path dir = tmp.resolve("model");
        try (Glow glow = FlowTestSupport.perturbedModel(CONFIG, DataType.FLOAT32, 4, 0.1)) {
            ModelArtifact.save(dir, manifest(CONFIG), glow);
        }
        return dir;
    }

    static Manifest manifest(GlowConfig config) {
        return new Manifest("tiny", "1", Architecture.of(config), 8, "synthetic", null, null, null, null);
    }

    @Test
    void saveThenLoadIsBitExact() throws IOException {
        Path dir = tmp.resolve("model");
        try (Glow glow = FlowTestSupport.perturbedModel(CONFIG, DataType.FLOAT32, 4, 0.1)) {
            ModelArtifact.save(dir, manifest(CONFIG), glow);
            try (ModelArtifact.Loaded loaded = ModelArtifact.load(dir, NDManager.newBaseManager(), DataType.FLOAT32)) {
                assertThat(loaded.glow().initialized()).isTrue();
                assertThat(loaded.manifest().name()).isEqualTo("tiny");
                Map<String, FlowParameters.Entry> a = glow.parameters().entries();
                Map<String, FlowParameters.Entry> b = loaded.glow().parameters().entries();
                assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
                for (String name : a.keySet()) {
                    if (name.endsWith("initialized")) {
                        continue;
                    }
                    assertThat(b.get(name).array().toByteArray()).as(name).isEqualTo(a.get(name).array().toByteArray());
                }
            }
            // and the file written again validates with every tensor
            try (ModelArtifact.Loaded loaded = ModelArtifact.load(dir, NDManager.newBaseManager(), DataType.FLOAT32)) {
                byte[] again = ModelArtifact.weightsBytes(loaded.glow().parameters());
                assertThat(Safetensors.validate(again, "again")).hasSize(glow.parameters().entries().size());
            }
        }
    }

    @Test
    void acceptsDataParallelPrefixAndMissingInitializedFlags() throws IOException {
        Path dir = savedModel();
        rewriteTensors(dir, list -> {
            list.removeIf(t -> t.getName().endsWith("actnorm.initialized"));
            list.forEach(t -> t.setName("module." + t.getName()));
        });
        try (ModelArtifact.Loaded loaded = ModelArtifact.load(dir, NDManager.newBaseManager(), DataType.FLOAT32)) {
            assertThat(loaded.glow().initialized()).isTrue();
        }
    }

    private static void rewriteTensors(Path dir, Consumer<NDList> edit) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            NDList list = new NDList(Safetensors.read(dir.resolve(ModelArtifact.WEIGHTS), m).values().toArray(new NDArray[0]));
            edit.accept(list);
            Files.write(dir.resolve(ModelArtifact.WEIGHTS), Safetensors.encode(list));
        }
    }

    private void assertLoadFails(Path dir, String... fragments) {
        assertThatThrownBy(() -> ModelArtifact.load(dir, NDManager.newBaseManager(), DataType.FLOAT32).close())
                .isInstanceOf(ArtifactException.class)
                .satisfies(e -> {
                    for (String f : fragments) {
                        assertThat(e.getMessage()).contains(f);
                    }
                });
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path dir = savedModel();
        rewriteTensors(dir, list -> list.removeIf(t -> t.getName().equals("blocks.1.flows.0.invconv.w_s")));
        assertLoadFails(dir, "missing tensor", "blocks.1.flows.0.invconv.w_s");
    }

    @Test
    void unexpectedTensorIsNamed() throws IOException {
        Path dir = savedModel();
        rewriteTensors(dir, list -> {
            NDArray extra = list.get(0).getManager().zeros(new ai.djl.ndarray.types.Shape(2));
            extra.setName("blocks.0.extra");
            list.add(extra);
        });
        assertLoadFails(dir, "unexpected tensor", "blocks.0.extra");
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        Path dir = savedModel();
        rewriteTensors(dir, list -> replace(list, "blocks.0.flows.1.coupling.net.2.bias",
                a -> a.getManager().zeros(new ai.djl.ndarray.types.Shape(9))));
        assertLoadFails(dir, "blocks.0.flows.1.coupling.net.2.bias", "shape [9]", "expected [8]");
    }

    @Test
    void wrongDtypeIsNamed() throws IOException {
        Path dir = savedModel();
        rewriteTensors(dir, list -> replace(list, "blocks.0.prior.scale", a -> a.toType(DataType.INT32, false)));
        assertLoadFails(dir, "blocks.0.prior.scale", "dtype int32");
    }

    @Test
    void nonFiniteWeightIsNamed() throws IOException {
        Path dir = savedModel();
        rewriteTensors(dir, list -> replace(list, "blocks.1.flows.1.actnorm.loc", a -> a.mul(0).div(0)));
        assertLoadFails(dir, "blocks.1.flows.1.actnorm.loc", "NaN");
        rewriteTensors(dir, list -> replace(list, "blocks.1.flows.1.actnorm.loc", a -> a.getManager().ones(a.getShape()).div(0)));
        assertLoadFails(dir, "blocks.1.flows.1.actnorm.loc", "Infinity");
    }

    @Test
    void brokenStructureBufferIsNamed() throws IOException {
        Path dir = savedModel();
        rewriteTensors(dir, list -> replace(list, "blocks.0.flows.0.invconv.w_p", a -> a.mul(2)));
        assertLoadFails(dir, "blocks.0.flows.0.invconv.w_p", "permutation");
    }

    private static void replace(NDList list, String name, java.util.function.UnaryOperator<NDArray> f) {
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i).getName().equals(name)) {
                NDArray r = f.apply(list.get(i));
                r.setName(name);
                list.set(i, r);
                return;
            }
        }
        throw new AssertionError("no tensor " + name);
    }

    @Test
    void truncatedFileIsRejected() throws IOException {
        Path dir = savedModel();
        Path w = dir.resolve(ModelArtifact.WEIGHTS);
        byte[] bytes = Files.readAllBytes(w);
        Files.write(w, Arrays.copyOf(bytes, bytes.length - 100));
        assertLoadFails(dir, "weights.safetensors", "truncated");
        Files.write(w, Arrays.copyOf(bytes, 20));
        assertLoadFails(dir, "weights.safetensors", "truncated");
    }

    @Test
    void garbageFileIsRejected() throws IOException {
        Path dir = savedModel();
        Path w = dir.resolve(ModelArtifact.WEIGHTS);
        byte[] junk = new byte[4096];
        new java.util.Random(1).nextBytes(junk);
        Files.write(w, junk);
        assertLoadFails(dir, "weights.safetensors", "not a safetensors file");
        // a plausible header length followed by text that is not JSON
        ByteBuffer b = ByteBuffer.allocate(8 + 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(16).put("{not json at all".getBytes(StandardCharsets.UTF_8));
        Files.write(w, b.array());
        assertLoadFails(dir, "weights.safetensors", "not valid JSON");
    }

    @Test
    void offsetsBeyondTheFileAreRejectedBeforeDecoding() throws IOException {
        Path dir = savedModel();
        Path w = dir.resolve(ModelArtifact.WEIGHTS);
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000],\"data_offsets\":[0,4000000]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(w, b.array());
        assertLoadFails(dir, "tensor 'a'", "ends at byte 4000000", "only 16 bytes");
    }

    @Test
    void manifestDisagreeingWithWeightsNamesTheField() throws IOException {
        Path dir = savedModel();
        GlowConfig wider = new GlowConfig(1, 8, 8, 2, 2, 16, true, true, 3);
        Files.write(dir.resolve(ModelArtifact.MANIFEST), ModelArtifact.JSON.writeValueAsBytes(manifest(wider)));
        assertLoadFails(dir, "architecture.hidden_channels is 16", "has 8", "coupling.net.0.weight");

        GlowConfig deeper = new GlowConfig(1, 8, 8, 3, 2, 8, true, true, 3);
        Files.write(dir.resolve(ModelArtifact.MANIFEST), ModelArtifact.JSON.writeValueAsBytes(manifest(deeper)));
        assertLoadFails(dir, "architecture.flows_per_level is 3", "has 2");

        GlowConfig unconditional = new GlowConfig(1, 8, 8, 2, 2, 8, true, true, 0);
        Files.write(dir.resolve(ModelArtifact.MANIFEST), ModelArtifact.JSON.writeValueAsBytes(manifest(unconditional)));
        assertLoadFails(dir, "architecture.num_classes is 0", "has 3");
    }

    /** A fixed shuffle is stored with the weights: the loaded model permutes as the saved one, bit for bit. */
    @Test
    void aShuffledModelLoadsWithItsOrderAndTheManifestSaysWhichPermutation() throws IOException {
        GlowConfig shuffled = new GlowConfig(1, 8, 8, 2, 2, 8, true, dev.glowserve.flow.Permutation.SHUFFLE, 0);
        Path dir = tmp.resolve("shuffled");
        try (Glow glow = FlowTestSupport.perturbedModel(shuffled, DataType.FLOAT32, 9, 0.1)) {
            ModelArtifact.save(dir, manifest(shuffled), glow);
            String json = Files.readString(dir.resolve(ModelArtifact.MANIFEST));
            assertThat(json).contains("\"permutation\" : \"shuffle\"").contains("\"lu\" : false");
            try (ModelArtifact.Loaded loaded = ModelArtifact.load(dir, NDManager.newBaseManager(), DataType.FLOAT32);
                 ai.djl.ndarray.NDManager m = NDManager.newBaseManager()) {
                assertThat(loaded.glow().config().permutation()).isEqualTo(dev.glowserve.flow.Permutation.SHUFFLE);
                ai.djl.ndarray.NDArray x = m.create(FlowTestSupport.randomInput(2 * 64, new java.util.Random(1)),
                        new ai.djl.ndarray.types.Shape(2, 1, 8, 8));
                float[] a = glow.encode(x, null, dev.glowserve.flow.Pass.INFERENCE).logPx().toFloatArray();
                float[] b = loaded.glow().encode(x, null, dev.glowserve.flow.Pass.INFERENCE).logPx().toFloatArray();
                assertThat(b).containsExactly(a);
            }
        }
        // a manifest that says reverse over weights with the LU convolution's tensors is refused, naming both
        Path lu = savedModel();
        GlowConfig reverse = new GlowConfig(1, 8, 8, 2, 2, 8, true, dev.glowserve.flow.Permutation.REVERSE, 3);
        Files.write(lu.resolve(ModelArtifact.MANIFEST), ModelArtifact.JSON.writeValueAsBytes(manifest(reverse)));
        assertLoadFails(lu, "architecture.permutation is a fixed permutation", "has conv-lu");
        // and one whose lu and permutation disagree
        Files.writeString(lu.resolve(ModelArtifact.MANIFEST), Files.readString(lu.resolve(ModelArtifact.MANIFEST))
                .replace("\"lu\" : false", "\"lu\" : true"));
        assertLoadFails(lu, "lu is true but permutation is reverse");
    }

    @Test
    void badManifestsAreNamed() throws IOException {
        Path dir = savedModel();
        Path m = dir.resolve(ModelArtifact.MANIFEST);
        Files.writeString(m, "{\"name\": \"x\", \"architecture\": {\"in_channels\": 1}}");
        assertLoadFails(dir, "architecture.height is missing");
        Files.writeString(m, "{\"name\": \"x\", \"architecture\": {\"in_channels\": 1, \"height\": 6, \"width\": 8,"
                + " \"flows_per_level\": 2, \"levels\": 2, \"hidden_channels\": 8, \"affine\": true, \"lu\": true}}");
        assertLoadFails(dir, "divisible by 2^levels");
        Files.writeString(m, "{ broken");
        assertLoadFails(dir, "manifest.json", "not a valid manifest");
        Files.delete(m);
        assertLoadFails(dir, "manifest.json", "missing");
    }

    /** The count a model's memory estimate starts from, before it is built, is the built model's. */
    @Test
    void weightCountIsTheBuiltModelsBeforeItIsBuilt() {
        for (GlowConfig c : new GlowConfig[] {CONFIG, GlowConfig.of(1, 8, 8, 3, 2, 16),
                new GlowConfig(3, 16, 16, 2, 3, 12, false, false, 0), new GlowConfig(2, 8, 8, 1, 1, 5, false, true, 4),
                new GlowConfig(1, 8, 8, 2, 2, 6, true, dev.glowserve.flow.Permutation.SHUFFLE, 0),
                new GlowConfig(1, 8, 8, 2, 2, 6, true, dev.glowserve.flow.Permutation.REVERSE, 2)}) {
            try (Glow glow = Glow.create(c, NDManager.newBaseManager(), DataType.FLOAT32, 1)) {
                long built = glow.parameters().entries().entrySet().stream().filter(e -> !e.getKey().endsWith(".initialized"))
                        .mapToLong(e -> e.getValue().array().size()).sum();
                assertThat(c.weightCount()).as(c.toString()).isEqualTo(built);
            }
        }
    }

    /** A model over the memory limit, by its architecture or by its weights file, is refused before it is built. */
    @Test
    void aModelOverTheLimitIsRefusedBeforeAnythingIsRead() throws IOException {
        Path dir = savedModel();
        long weights = Files.size(dir.resolve(ModelArtifact.WEIGHTS));
        assertThatThrownBy(() -> ModelArtifact.load(ArtifactSource.folder(dir, "tiny/1"), NDManager.newBaseManager(),
                DataType.FLOAT32, weights - 1)).isInstanceOf(ArtifactException.class)
                .hasMessageStartingWith("tiny/1/").hasMessageContaining("more than the limit").hasMessageNotContaining(tmp.toString());
        long estimate = CONFIG.estimatedBytes(64);
        assertThat(estimate).isGreaterThan(weights);
        assertThatThrownBy(() -> ModelArtifact.load(ArtifactSource.folder(dir, "tiny/1"), NDManager.newBaseManager(),
                DataType.FLOAT32, estimate - 1)).isInstanceOf(ArtifactException.class)
                .hasMessageContaining("the architecture needs about");
        try (ModelArtifact.Loaded ok = ModelArtifact.load(ArtifactSource.folder(dir, "tiny/1"), NDManager.newBaseManager(),
                DataType.FLOAT32, estimate)) {
            assertThat(ok.glow().initialized()).isTrue();
        }
    }
}
