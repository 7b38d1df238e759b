package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.IValue;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The names Java and the script share: arguments go by name whatever order the script declares them in, and a name
 * one side has and the other lacks fails when the script compiles, before any request.
 */
class GlowScriptTest {

    private static final String ENCODE_PARAMETERS = "    x: Tensor,\n    labels: Tensor,\n";

    @Test
    void argumentsGoByNameWhateverOrderTheScriptDeclares() {
        String shipped = GlowScript.shippedSource();
        assertThat(shipped).contains(ENCODE_PARAMETERS);
        String reordered = shipped.replace(ENCODE_PARAMETERS, "    labels: Tensor,\n    x: Tensor,\n");
        GlowConfig config = new GlowConfig(1, 28, 28, 2, 2, 32, true, true, 3);
        int[] labels = {2, 0, 1};
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 4, 0.05);
                NDScope scope = new NDScope();
                NDManager m = glow.manager().newSubManager();
                ScriptedPass declared = new ScriptedPass(glow, InferenceRoutes.of(config, true), ScriptedPass.compile(glow, shipped));
                ScriptedPass swapped = new ScriptedPass(glow, InferenceRoutes.of(config, true), ScriptedPass.compile(glow, reordered))) {
            scope.suppressNotUsedWarning();
            NDArray x = m.create(FlowTestSupport.randomInput(3 * 784, new Random(5)), new Shape(3, 1, 28, 28));
            Encoding expected = declared.encode(x, labels);
            Encoding encoding = swapped.encode(x, labels);
            assertThat(encoding.logPx().toFloatArray()).containsExactly(expected.logPx().toFloatArray());
            assertThat(encoding.eps()).hasSize(config.levels());
            for (int l = 0; l < config.levels(); l++) {
                assertThat(encoding.eps().get(l).toFloatArray()).containsExactly(expected.eps().get(l).toFloatArray());
                assertThat(encoding.z().get(l).toFloatArray()).containsExactly(expected.z().get(l).toFloatArray());
            }
            // the most probable class: the two results only that call has, read by name
            Marginal marginal = swapped.encodeMarginal(x);
            assertThat(marginal.labels()).containsExactly(declared.encodeMarginal(x).labels());
        }
    }

    @Test
    void aWeightTheScriptReadsUnderANameJavaDoesNotGiveFailsAtCompile() {
        String source = GlowScript.shippedSource().replace("w[\"unmix_bias\"]", "w[\"unmix_offset\"]");
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> GlowScript.compile(m, source)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[unmix_offset] have no Java name").hasMessageContaining("[unmix_bias] are not in the script");
        }
    }

    @Test
    void aParameterJavaHasNoNameForFailsAtCompile() {
        String source = GlowScript.shippedSource().replace(ENCODE_PARAMETERS, "    images: Tensor,\n    labels: Tensor,\n");
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> GlowScript.compile(m, source)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("encode(images) has no Java name");
        }
    }

    @Test
    void aCallMissingAnArgumentIsRefusedBeforeLibtorchSeesIt() {
        try (NDManager m = NDManager.newBaseManager(); IValue flag = IValue.from(true)) {
            GlowScript script = GlowScript.compile(m, GlowScript.shippedSource());
            assertThatThrownBy(() -> script.call(GlowScript.Method.DECODE, Map.of(GlowScript.Parameter.STANDARDISED, flag), Map.of()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("decode takes [latents, ");
        }
    }
}
