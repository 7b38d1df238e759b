package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The TorchScript inference pass against the eager layers it replaces, on shapes that take every
 * ZeroConv route (GEMMs over rows on small maps; taps GEMM + col2im and the direct conv on larger
 * ones), both couplings, both 1x1 convs, one to three levels, class labels and double precision.
 */
class ScriptedInferenceTest {

    static Stream<Arguments> models() {
        return Stream.of(true, false).flatMap(large -> modelsFor(large));
    }

    private static Stream<Arguments> modelsFor(boolean large) {
        String batch = large ? ", large batch" : "";
        return Stream.of(
                Arguments.of("14x14 taps + 7x7 rows, affine, LU" + batch, new GlowConfig(1, 28, 28, 2, 2, 32, true, true, 0),
                        DataType.FLOAT32, large),
                Arguments.of("direct convs at 20x20 and 10x10, additive, plain W, 3 levels" + batch,
                        new GlowConfig(3, 40, 40, 2, 3, 16, false, false, 0), DataType.FLOAT32, large),
                Arguments.of("class-conditional" + batch, new GlowConfig(1, 28, 28, 2, 2, 32, true, true, 3), DataType.FLOAT32, large),
                Arguments.of("one level" + batch, new GlowConfig(2, 8, 8, 3, 1, 16, true, true, 0), DataType.FLOAT32, large),
                Arguments.of("double precision" + batch, new GlowConfig(1, 28, 28, 2, 2, 16, true, true, 0), DataType.FLOAT64, large),
                Arguments.of("hidden 256: oneDNN GEMMs at 7x7" + batch, new GlowConfig(1, 28, 28, 1, 2, 256, true, true, 0),
                        DataType.FLOAT32, large));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void scriptedPassAgreesWithTheEagerLayers(String name, GlowConfig config, DataType dataType, boolean largeBatch) {
        double tolerance = dataType == DataType.FLOAT64 ? 1e-9 : 1e-5;
        try (Glow scriptedModel = FlowTestSupport.perturbedModel(config, dataType, 21, 0.05);
                Glow eagerModel = FlowTestSupport.perturbedModel(config, dataType, 21, 0.05);
                InferencePass scripted = InferencePass.open(scriptedModel, InferenceSettings.DEFAULT);
                InferencePass eager = InferencePass.open(eagerModel, InferenceSettings.EAGER);
                NDScope scope = new NDScope();
                NDManager m = scriptedModel.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            assertThat(scripted).isInstanceOf(ScriptedPass.class);
            assertThat(eager).isInstanceOf(EagerPass.class);
            // oneDNN's prepacked convs on CPU in float32; the plain ones otherwise
            assertThat(scripted.name()).isEqualTo(dataType == DataType.FLOAT32 ? "torchscript+onednn" : "torchscript");
            // large batches take the fold by in-place adds and the prepacked 3x3 conv (at 256 channels over windows)
            int batch = largeBatch ? InferenceRoutes.LARGE_BATCH + 1 : 3;
            int[] labels = config.conditional() ? IntStream.range(0, batch).map(i -> i % config.numClasses()).toArray() : null;
            float[] input = FlowTestSupport.randomInput(batch * config.dimensions(), new Random(5));
            NDArray x = m.create(input, new Shape(batch, config.inChannels(), config.height(), config.width()))
                    .toType(dataType, false);

            Encoding s = scripted.encode(x, labels);
            Encoding e = eager.encode(x, labels);
            assertClose("log-det", s.logDet(), e.logDet(), tolerance);
            assertClose("log p(x)", s.logPx(), e.logPx(), tolerance);
            assertThat(s.eps()).hasSize(config.levels());
            for (int l = 0; l < config.levels(); l++) {
                assertClose("eps level " + l, s.eps().get(l), e.eps().get(l), tolerance);
                assertClose("z level " + l, s.z().get(l), e.z().get(l), tolerance);
            }

            NDArray back = scripted.decode(s.eps(), labels);
            assertClose("decode(encode(x))", back, x, dataType == DataType.FLOAT64 ? 1e-9 : 1e-4);
            assertClose("decode, scripted vs eager", back, eager.decode(e.eps(), labels), tolerance);
            assertClose("decodeZ(z)", scripted.decodeZ(s.z()), x, dataType == DataType.FLOAT64 ? 1e-9 : 1e-4);

            // samples far out in the tails: the reverse pass's bounds hold in both. There rounding differences
            // grow through the reverse steps, by how much depends on the kernels the CPU gets (relative 1.2e-3 at
            // hidden 256 on one machine, 1.6e-3 at hidden 32 on an AVX-512 Xeon with AMX)
            NDList far = new NDList();
            for (NDArray level : s.eps()) {
                far.add(level.mul(40));
            }
            assertClose("decode of far latents", scripted.decode(far, labels), eager.decode(far, labels), 1e-2);
        }
    }

    @Test
    void marginalOverClassesIsTheEagerOne() {
        GlowConfig config = new GlowConfig(1, 28, 28, 2, 2, 32, true, true, 4);
        try (Glow scriptedModel = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 8, 0.05);
                Glow eagerModel = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 8, 0.05);
                InferencePass scripted = InferencePass.open(scriptedModel, InferenceSettings.DEFAULT);
                InferencePass eager = InferencePass.open(eagerModel, InferenceSettings.EAGER);
                NDScope scope = new NDScope();
                NDManager m = scriptedModel.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            NDArray x = m.create(FlowTestSupport.randomInput(5 * 784, new Random(9)), new Shape(5, 1, 28, 28));
            Marginal s = scripted.encodeMarginal(x);
            Marginal e = eager.encodeMarginal(x);
            assertThat(s.labels()).containsExactly(e.labels());
            for (int i = 0; i < 5; i++) {
                assertThat(s.logPx()[i]).isCloseTo(e.logPx()[i], org.assertj.core.api.Assertions.within(1e-5 * Math.abs(e.logPx()[i])));
            }
        }
    }

    @Test
    void prepackedConvolutionsGiveTheBitsOfThePlainOnes() {
        // one level at 14x14: only convolutions (at 256 channels the 3x3 one as a 1x1 conv over its windows on
        // large batches)
        comparePrepackedWithPlain(new GlowConfig(1, 28, 28, 2, 1, 32, true, true, 0), true);
        comparePrepackedWithPlain(new GlowConfig(1, 28, 28, 1, 1, 256, true, true, 0), true);
    }

    @Test
    void prepackedSmallMapGemmsAgreeWithThePlainOnes() {
        // from 256 channels on, 7x7 takes oneDNN's GEMM instead of MKL's for the 1x1 conv and the ZeroConv taps:
        // other rounding
        comparePrepackedWithPlain(new GlowConfig(1, 28, 28, 2, 2, 256, true, true, 0), false);
    }

    private static void comparePrepackedWithPlain(GlowConfig config, boolean sameBits) {
        try (Glow packedModel = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 6, 0.05);
                Glow plainModel = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 6, 0.05);
                InferencePass packed = InferencePass.open(packedModel, InferenceSettings.DEFAULT);
                InferencePass plain = InferencePass.open(plainModel, new InferenceSettings(true, false));
                NDScope scope = new NDScope();
                NDManager m = packedModel.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            assertThat(plain.name()).isEqualTo("torchscript");
            assertThat(packed.name()).isEqualTo("torchscript+onednn");
            for (int batch : new int[] {1, InferenceRoutes.LARGE_BATCH + 1}) {
                NDArray x = m.create(FlowTestSupport.randomInput(batch * 784, new Random(batch)), new Shape(batch, 1, 28, 28));
                Encoding p = packed.encode(x, null);
                Encoding q = plain.encode(x, null);
                NDArray decoded = packed.decode(p.eps(), null);
                NDArray reference = plain.decode(q.eps(), null);
                if (sameBits) {
                    assertThat(p.logPx().toFloatArray()).as("log p, batch %d", batch).containsExactly(q.logPx().toFloatArray());
                    assertThat(decoded.toFloatArray()).as("decode, batch %d", batch).containsExactly(reference.toFloatArray());
                } else {
                    assertClose("log p, batch " + batch, p.logPx(), q.logPx(), 1e-5);
                    assertClose("decode, batch " + batch, decoded, reference, 1e-5);
                }
            }
        }
    }

    @Test
    void weightsChangeReachesTheScriptedPass() {
        GlowConfig config = new GlowConfig(1, 28, 28, 2, 2, 16, true, true, 0);
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 4, 0.05);
                InferencePass pass = InferencePass.open(glow, InferenceSettings.DEFAULT);
                NDScope scope = new NDScope();
                NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            NDArray x = m.create(FlowTestSupport.randomInput(2 * 784, new Random(1)), new Shape(2, 1, 28, 28));
            float before = pass.encode(x, null).logPx().toFloatArray()[0];
            FlowTestSupport.perturb(glow, 99, 0.05);
            float after = pass.encode(x, null).logPx().toFloatArray()[0];
            try (Glow reference = Glow.create(config, NDManager.newBaseManager(), DataType.FLOAT32, 4)) {
                // same weights as glow now, built fresh: nothing stale in the scripted pass's bound tensors
                for (var entry : glow.parameters().entries().entrySet()) {
                    if (!entry.getValue().trainable()) {
                        continue;
                    }
                    Tensors.assign(reference.parameters().get(entry.getKey()), Tensors.toDoubles(entry.getValue().array()));
                }
                reference.markInitialized();
                reference.parameters().markUpdated();
                float fresh;
                try (InferencePass referencePass = InferencePass.open(reference, InferenceSettings.DEFAULT)) {
                    fresh = referencePass.encode(x, null).logPx().toFloatArray()[0];
                }
                assertThat(after).isNotEqualTo(before).isEqualTo(fresh);
            }
        }
    }

    @Test
    void aSourceThatDoesNotCompileFailsAtLoadWithLibtorchsMessage() {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> ScriptModule.compile(m, "Broken", String.join("\n",
                    "class Broken(Module):",
                    "  __parameters__ = []",
                    "  __buffers__ = []",
                    "  training : bool",
                    "  def f(self: __torch__.Broken,",
                    "    x: Tensor) -> Tensor:",
                    "    return torch.no_such_op(x)",
                    "")))
                    .hasMessageContaining("no_such_op");
        }
    }

    static Stream<Arguments> scriptsThisLibtorchCannotBuild() {
        String shipped = GlowScript.shippedSource();
        String packedStart = "    convs = annotate(List[List[Dict[str, __torch__.torch.classes.mkldnn.ConvOpContext]]], [])";
        assertThat(shipped).contains("ops.mkldnn_prepacked.conv2d_run(").contains(packedStart);
        return Stream.of(
                // as a libtorch without oneDNN's prepacked ops would see the shipped script
                Arguments.of("an op it does not have", shipped.replace("ops.mkldnn_prepacked.conv2d_run(", "ops.no_such_library.conv2d_run("),
                        "no_such_library"),
                Arguments.of("weights it cannot prepack", shipped.replace(packedStart,
                        "    ops.prim.RaiseException(\"prepacking refused here\", \"builtins.RuntimeError\")\n" + packedStart),
                        "prepacking refused here"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scriptsThisLibtorchCannotBuild")
    void aScriptThisLibtorchCannotBuildLeavesInferenceOnTheEagerLayers(String name, String source, String reason) {
        GlowConfig config = new GlowConfig(1, 28, 28, 2, 2, 32, true, true, 0);
        try (Glow glowModel = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 8, 0.05);
                Glow eagerModel = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 8, 0.05);
                InferencePass glow = InferencePass.open(glowModel, InferenceSettings.DEFAULT, source);
                InferencePass eager = InferencePass.open(eagerModel, InferenceSettings.EAGER);
                NDScope scope = new NDScope();
                NDManager m = glowModel.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            NDArray x = m.create(FlowTestSupport.randomInput(3 * 784, new Random(2)), new Shape(3, 1, 28, 28));
            Encoding enc = glow.encode(x, null);
            assertThat(glow).isInstanceOf(EagerPass.class);
            assertThat(glow.name()).startsWith("eager (TorchScript pass unavailable: ").contains(reason);
            assertThat(eager.name()).isEqualTo("eager");
            Encoding expected = eager.encode(x, null);
            assertThat(enc.logPx().toFloatArray()).containsExactly(expected.logPx().toFloatArray());
            for (int l = 0; l < config.levels(); l++) {
                assertThat(enc.eps().get(l).toFloatArray()).containsExactly(expected.eps().get(l).toFloatArray());
            }
            assertThat(glow.decode(enc.eps(), null).toFloatArray()).containsExactly(eager.decode(enc.eps(), null).toFloatArray());
        }
    }

    @Test
    void theShippedScriptNamesItsPass() {
        GlowConfig config = new GlowConfig(1, 28, 28, 2, 2, 16, true, true, 0);
        try (Glow f32 = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 3, 0.05);
                Glow f64 = FlowTestSupport.perturbedModel(config, DataType.FLOAT64, 3, 0.05);
                Glow fresh = Glow.create(config, NDManager.newBaseManager(), DataType.FLOAT32, 3)) {
            for (Object[] expected : new Object[][] {{f32, "torchscript+onednn"}, {f64, "torchscript"}, {fresh, "eager"}}) {
                try (InferencePass pass = InferencePass.open((Glow) expected[0], InferenceSettings.DEFAULT)) {
                    assertThat(pass.name()).as(expected[0] == fresh ? "not initialized yet" : "").isEqualTo(expected[1]);
                }
            }
        }
    }

    private static void assertClose(String what, NDArray actual, NDArray expected, double tolerance) {
        assertThat(actual.getShape()).as(what).isEqualTo(expected.getShape());
        double[] a = Tensors.toDoubles(actual);
        double[] b = Tensors.toDoubles(expected);
        for (int i = 0; i < a.length; i++) {
            assertThat(Double.isFinite(a[i])).as("%s[%d] finite", what, i).isTrue();
            assertThat(Math.abs(a[i] - b[i])).as("%s[%d]: %s vs %s", what, i, a[i], b[i])
                    .isLessThanOrEqualTo(tolerance * Math.max(1, Math.abs(b[i])));
        }
    }

}
