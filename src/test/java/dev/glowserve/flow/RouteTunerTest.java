package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every table the tuner can choose keeps the promise of the untuned one: an image gets the same bits alone and inside
 * any batch, and the answers are the plain script's to rounding. And the tuner keeps the fastest candidate it timed.
 */
class RouteTunerTest {

    /** The untuned prepacked table and every single change the tuner tries from it, and all of them at once. */
    static List<InferenceRoutes> tables(GlowConfig config) {
        InferenceRoutes base = InferenceRoutes.of(config, true);
        List<InferenceRoutes> out = new ArrayList<>(List.of(base, base.withPackedBatch(RouteTuner.SMALL_BATCH)));
        InferenceRoutes all = base.withPackedBatch(RouteTuner.SMALL_BATCH);
        for (int l = 0; l < config.levels(); l++) {
            InferenceRoutes.Level r = base.levels().get(l);
            out.add(base.withLevel(l, r.with(!r.packedIn(), false, r.packedHidden(), r.oneDnnGemms())));
            out.add(base.withLevel(l, r.with(true, !r.windowed(), r.packedHidden(), r.oneDnnGemms())));
            InferenceRoutes.Level flipped = r.smallMap() ? r.with(r.packedIn(), r.windowed(), false, !r.oneDnnGemms())
                    : r.with(r.packedIn(), r.windowed(), !r.packedHidden(), false);
            out.add(base.withLevel(l, flipped));
            all = all.withLevel(l, flipped.with(true, !r.windowed(), flipped.packedHidden(), flipped.oneDnnGemms()));
        }
        out.add(all);
        return out;
    }

    @ParameterizedTest(name = "hidden {0}")
    @ValueSource(ints = {256, 32})
    void everyTableTheTunerMayChooseGivesAnImageTheSameBitsAloneAndInAnyBatch(int hidden) {
        int classes = hidden == 32 ? 3 : 0;
        GlowConfig config = new GlowConfig(1, 28, 28, 1, 2, hidden, true, true, classes);
        int batch = 20;
        int[] labels = classes == 0 ? null : java.util.stream.IntStream.range(0, batch).map(i -> i % classes).toArray();
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 5, 0.02);
                NDScope scope = new NDScope();
                NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            GlowScript module = ScriptedPass.compile(glow, GlowScript.shippedSource());
            NDArray all = m.create(FlowTestSupport.randomInput(batch * config.dimensions(), new Random(3)), new Shape(batch, 1, 28, 28));
            float[] reference;
            try (ScriptedPass plain = new ScriptedPass(glow, InferenceRoutes.of(config, false), module)) {
                reference = plain.encode(all, labels).logPx().toFloatArray();
            }
            for (InferenceRoutes table : tables(config)) {
                try (ScriptedPass pass = new ScriptedPass(glow, table, module)) {
                    Encoding batched = pass.encode(all, labels);
                    float[] logP = batched.logPx().toFloatArray();
                    float[] decoded = pass.decode(batched.eps(), labels).toFloatArray();
                    for (int i = 0; i < batch; i++) {
                        assertThat((double) logP[i]).as("%s: log p of image %d against the plain script", table.describe(), i)
                                .isCloseTo(reference[i], org.assertj.core.api.Assertions.within(1e-5 * Math.abs(reference[i])));
                    }
                    // alone, in a small batch, and in one past LARGE_BATCH (where the prepacked 3x3 conv runs)
                    for (int[] slice : new int[][] {{0, 1}, {7, 10}, {4, 4 + InferenceRoutes.LARGE_BATCH + 1}}) {
                        String range = slice[0] + ":" + slice[1];
                        int[] part = labels == null ? null : java.util.Arrays.copyOfRange(labels, slice[0], slice[1]);
                        Encoding e = pass.encode(all.get(range), part);
                        float[] partLogP = e.logPx().toFloatArray();
                        for (int i = 0; i < partLogP.length; i++) {
                            assertThat(partLogP[i]).as("%s: log p of image %d, batch %s vs %d", table.describe(), slice[0] + i, range, batch)
                                    .isEqualTo(logP[slice[0] + i]);
                        }
                        float[] partDecoded = pass.decode(e.eps(), part).toFloatArray();
                        int per = config.dimensions();
                        for (int k = 0; k < partDecoded.length; k++) {
                            assertThat(partDecoded[k]).as("%s: decoded value %d, batch %s", table.describe(), k, range)
                                    .isEqualTo(decoded[slice[0] * per + k]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theTunerKeepsTheFastestCandidateItTimedOnEveryBatchClass() {
        GlowConfig config = new GlowConfig(1, 28, 28, 1, 2, 32, true, true, 0);
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT32, 5, 0.02)) {
            RouteTuner.Result result = RouteTuner.tune(glow, 2, true, GlowScript.shippedSource());
            assertThat(result.classes()).containsExactly(new RouteTuner.BatchClass(1, 2),
                    new RouteTuner.BatchClass(RouteTuner.SMALL_BATCH, 2), new RouteTuner.BatchClass(RouteTuner.SMALL_BATCH, 1));
            List<RouteTuner.Trial> trials = result.trials();
            assertThat(trials.get(0).pass()).isEqualTo("torchscript");
            assertThat(trials.get(0).score()).isEqualTo(1.0);
            assertThat(trials).extracting(RouteTuner.Trial::pass).contains("torchscript+onednn", "eager");
            assertThat(trials).allSatisfy(t -> assertThat(t.millis()).hasSize(3));
            // the chosen table is the lowest-scoring one timed on every class
            RouteTuner.Trial chosen = trials.stream().filter(t -> t.pass().equals(result.pass())
                    && t.routes().equals(result.script() ? result.routes().describe() : "")).findFirst().orElseThrow();
            double best = trials.stream().filter(t -> t.millis().stream().noneMatch(v -> v.isNaN()))
                    .mapToDouble(RouteTuner.Trial::score).min().orElseThrow();
            assertThat(chosen.score()).isEqualTo(best);
            assertThat(RouteTuner.table(result)).hasSize(trials.size());
            assertThat(result.describe()).startsWith(result.pass());
        }
    }
}
