package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** decode(encode(x)) = x for every coupling × 1x1 conv variant and L = 1..3, on both inference passes. */
class RoundTripTest {

    static Stream<Arguments> variants() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (boolean affine : new boolean[] {true, false}) {
            for (Permutation permutation : Permutation.values()) {
                for (int levels = 1; levels <= 3; levels++) {
                    b.add(Arguments.of(affine, permutation, levels, true));
                    b.add(Arguments.of(affine, permutation, levels, false));
                }
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "affine={0} permutation={1} L={2} scripted={3}")
    @MethodSource("variants")
    void decodeInvertsEncode(boolean affine, Permutation permutation, int levels, boolean scripted) {
        GlowConfig config = new GlowConfig(2, 16, 16, 3, levels, 24, affine, permutation, 0);
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 11 + levels, 0.05);
                NDScope scope = new NDScope();
                NDManager m = glow.manager().newSubManager()) {
            InferencePass pass = InferencePass.open(glow, scripted ? InferenceSettings.DEFAULT : InferenceSettings.EAGER);
            assertThat(pass instanceof ScriptedPass).isEqualTo(scripted);
            float[] input = FlowTestSupport.randomInput(4 * config.dimensions(), new Random(levels));
            NDArray x = m.create(input, new Shape(4, 2, 16, 16));
            Encoding enc = pass.encode(x, null);
            for (int l = 0; l < levels; l++) {
                int[] s = config.latentShapes().get(l);
                assertThat(enc.eps().get(l).getShape()).isEqualTo(new Shape(4, s[0], s[1], s[2]));
            }
            float[] back = pass.decode(enc.eps(), null).toFloatArray();
            double maxErr = 0;
            for (int i = 0; i < input.length; i++) {
                maxErr = Math.max(maxErr, Math.abs(back[i] - input[i]));
            }
            assertThat(maxErr).isLessThanOrEqualTo(1e-4);
            // the flows are not the identity: the latents moved away from the input
            assertThat(enc.logDet().toFloatArray()[0]).isNotZero();
        }
    }
}
