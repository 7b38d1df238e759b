package dev.glowserve.train;

import dev.glowserve.data.Datasets;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Tensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Real (short) training runs on a Fashion-MNIST slice. */
class TrainerTest {

    static ImageSet train;
    static ImageSet test;

    @TempDir
    Path tmp;

    @BeforeAll
    static void data() {
        train = Datasets.load(Datasets.FASHION_MNIST, Datasets.Split.TRAIN).head(512);
        test = Datasets.load(Datasets.FASHION_MNIST, Datasets.Split.TEST).head(256);
    }

    static TrainOptions options(long steps, boolean conditional) {
        return options(steps, conditional, 0);
    }

    static TrainOptions options(long steps, boolean conditional, double ema) {
        return new TrainOptions(2, 2, 32, true, "conv-lu", 8, conditional, 32, 2e-3, 5, "constant", steps, 0,
                50, 7, 0, 256, 0, 3, 0, ema);
    }

    /** Largest |a - b| over all tensors (b null: largest |a|). */
    private static double maxAbsDiff(Map<String, double[]> a, Map<String, double[]> b) {
        double max = 0;
        for (String name : a.keySet()) {
            double[] x = a.get(name);
            double[] y = b == null ? new double[x.length] : b.get(name);
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    private static Map<String, double[]> weights(Trainer t) {
        return weights(t.glow());
    }

    private static Map<String, double[]> weights(dev.glowserve.flow.Glow glow) {
        Map<String, double[]> w = new LinkedHashMap<>();
        for (Map.Entry<String, FlowParameters.Entry> e : glow.parameters().entries().entrySet()) {
            if (e.getValue().trainable()) {
                w.put(e.getKey(), Tensors.toDoubles(e.getValue().array()));
            }
        }
        return w;
    }

    @Test
    void heldOutBitsPerDimFalls() {
        TrainOptions o = options(40, true);
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp, null)) {
            // the model after ActNorm's data init, before any update
            t.run();
            double after = t.evaluate();
            assertThat(t.history()).isNotEmpty();
            double first = t.history().stream().filter(h -> h.trainBpd() != null).findFirst().orElseThrow().trainBpd();
            assertThat(after).as("test bits/dim after 40 steps").isLessThan(first - 0.5);
            assertThat(Files.exists(tmp.resolve("train.jsonl"))).isTrue();
            assertThat(Files.exists(t.checkpointFile())).isTrue();
        }
        // an untrained model of the same kind scores the held-out set far worse
        TrainOptions none = options(1, true);
        try (Trainer t = new Trainer(none, new TrainingData(train, new Quantization(8), none.batchSize(), none.seed()), test, tmp.resolve("b"), null)) {
            t.run();
            double oneStep = t.evaluate();
            try (Trainer trained = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp, null)) {
                trained.resume();
                assertThat(trained.evaluate()).isLessThan(oneStep - 0.5);
            }
        }
    }

    @Test
    void twoWorkersComputeTheGradientsOfOne() {
        TrainOptions o = options(1, true);
        TrainingData data = new TrainingData(train, new Quantization(8), o.batchSize(), o.seed());
        Map<String, double[]> one = new LinkedHashMap<>();
        Map<String, double[]> two = new LinkedHashMap<>();
        double lossOne;
        double lossTwo;
        try (Trainer t = new Trainer(o, data, test, tmp.resolve("one"), null, 1)) {
            lossOne = t.gradients(data.batch(0), one);
        }
        try (Trainer t = new Trainer(o, data, test, tmp.resolve("two"), null, 2)) {
            assertThat(t.workers()).isEqualTo(2);
            lossTwo = t.gradients(data.batch(0), two);
        }
        assertThat(lossTwo).isCloseTo(lossOne, org.assertj.core.data.Offset.offset(1e-5 * Math.abs(lossOne)));
        double largest = maxAbsDiff(one, null);
        double maxDiff = maxAbsDiff(one, two);
        assertThat(largest).as("gradients are not all zero").isGreaterThan(1e-3);
        assertThat(maxDiff).as("two workers vs one, largest gradient " + largest).isLessThan(1e-4 * largest);
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0} worker(s)")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
    void resumeEqualsContinuousTraining(int workers) {
        TrainOptions o = options(16, false);
        Map<String, double[]> continuous;
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("a"), null, workers)) {
            t.run();
            continuous = weights(t);
            assertThat(t.evaluated()).as("no weight average without --ema").isSameAs(t.glow());
        }
        TrainOptions firstHalf = options(7, false);
        try (Trainer t = new Trainer(firstHalf, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("b"), null, workers)) {
            t.run();
        }
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("b"), null, workers)) {
            t.resume();
            assertThat(t.step()).isEqualTo(7);
            t.run();
            assertThat(t.step()).isEqualTo(16);
            double maxDiff = maxAbsDiff(continuous, weights(t));
            double maxMoved;
            try (Trainer fresh = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("c"), null, workers)) {
                maxMoved = maxAbsDiff(continuous, weights(fresh));
            }
            assertThat(maxMoved).as("training moved the weights").isGreaterThan(1e-3);
            assertThat(maxDiff).as("resumed vs continuous").isLessThan(1e-4);
        }
    }

    @Test
    void theWeightAverageFollowsItsRecurrenceAndResumesExactly() {
        TrainOptions o = options(12, false, 0.8);
        Map<String, double[]> continuousLive;
        Map<String, double[]> continuousAverage;
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("a"), null, 1)) {
            t.run();
            continuousLive = weights(t);
            continuousAverage = weights(t.evaluated());
            assertThat(t.evaluated()).isNotSameAs(t.glow());
            assertThat(maxAbsDiff(continuousLive, continuousAverage)).as("the average lags the live weights").isGreaterThan(1e-4);
            // the average's W and W^-1 come from its own factors: it still inverts exactly
            assertThat(t.evaluate()).isBetween(1.0, 9.0);
        }
        try (Trainer t = new Trainer(options(5, false, 0.8), new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("b"), null, 1)) {
            t.run();
        }
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("b"), null, 1)) {
            t.resume();
            t.run();
            assertThat(maxAbsDiff(continuousLive, weights(t))).as("live weights, resumed vs continuous").isLessThan(1e-4);
            assertThat(maxAbsDiff(continuousAverage, weights(t.evaluated()))).as("average, resumed vs continuous").isLessThan(1e-4);
        }
        // a checkpoint without an average cannot silently start one
        try (Trainer t = new Trainer(options(2, false), new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("c"), null, 1)) {
            t.run();
        }
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp.resolve("c"), null, 1)) {
            assertThatThrownBy(t::resume).hasMessageContaining("no weight average");
        }
    }

    @Test
    void oneAverageStepIsDecayTimesTheAveragePlusTheRestTimesTheLiveWeights() {
        TrainOptions o = options(1, true);
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, tmp, null, 1)) {
            t.run();
            dev.glowserve.flow.Glow live = t.glow();
            for (double decay : new double[] {0, 0.75}) {
                try (WeightAverage average = new WeightAverage(live, decay, 3)) {
                    Map<String, double[]> before = weights(average.glow());
                    // move the live weights, as an update would
                    try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                        scope.suppressNotUsedWarning();
                        live.parameters().entries().values().stream().filter(FlowParameters.Entry::trainable)
                                .forEach(e -> e.array().addi(0.01));
                    }
                    live.parameters().markUpdated();
                    average.update();
                    Map<String, double[]> moved = weights(live);
                    Map<String, double[]> after = weights(average.glow());
                    for (String name : moved.keySet()) {
                        double[] expected = new double[moved.get(name).length];
                        for (int i = 0; i < expected.length; i++) {
                            expected[i] = decay * before.get(name)[i] + (1 - decay) * moved.get(name)[i];
                        }
                        if (decay == 0) {
                            assertThat(after.get(name)).as(name + " with decay 0 is the live weight").containsExactly(moved.get(name));
                        } else {
                            assertThat(after.get(name)).as(name).containsExactly(expected, org.assertj.core.data.Offset.offset(1e-6));
                        }
                    }
                    // buffers (masks, permutation) are the live model's
                    assertThat(Tensors.toDoubles(average.glow().parameters().get("blocks.0.flows.0.invconv.w_p")))
                            .containsExactly(Tensors.toDoubles(live.parameters().get("blocks.0.flows.0.invconv.w_p")));
                }
            }
        }
    }

    /** Training data whose batch at one step holds a NaN, as a corrupt input would. */
    static final class Poisoned extends TrainingData {
        private final java.util.Set<Long> badSteps;

        Poisoned(ImageSet images, int batch, long seed, java.util.Set<Long> badSteps) {
            super(images, new Quantization(8), batch, seed);
            this.badSteps = badSteps;
        }

        @Override
        public Batch batch(long step) {
            Batch b = super.batch(step);
            if (badSteps.contains(step)) {
                b.x()[17] = Float.NaN;
            }
            return b;
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0} worker(s)")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
    void nonFiniteBatchIsSkippedWithoutTouchingWeights(int workers) {
        TrainOptions o = options(4, false);
        TrainOptions upToBad = options(3, false);
        Map<String, double[]> beforeBad;
        try (Trainer t = new Trainer(upToBad, new Poisoned(train, o.batchSize(), o.seed(), java.util.Set.of(3L)), test, tmp, null, workers)) {
            t.run();
            beforeBad = weights(t);
        }
        try (Trainer t = new Trainer(o, new Poisoned(train, o.batchSize(), o.seed(), java.util.Set.of(3L)), test, tmp, null, workers)) {
            t.resume();
            t.run();
            assertThat(t.skippedSteps()).isEqualTo(1);
            Map<String, double[]> after = weights(t);
            for (String name : beforeBad.keySet()) {
                assertThat(Arrays.equals(after.get(name), beforeBad.get(name))).as(name + " unchanged by the bad step").isTrue();
            }
        }
        String log = readLog(tmp);
        assertThat(log).contains("\"event\":\"skip\"").contains("loss is NaN");
    }

    @Test
    void stopsAfterTooManyBadStepsInARowAndKeepsTheLastGoodCheckpoint() {
        TrainOptions o = options(20, false);
        try (Trainer t = new Trainer(o, new Poisoned(train, o.batchSize(), o.seed(), java.util.Set.of(2L, 3L, 4L, 5L)), test, tmp, null)) {
            assertThatThrownBy(t::run).isInstanceOf(Trainer.DivergedException.class).hasMessageContaining("3 non-finite steps in a row");
        }
        assertThat(Files.exists(tmp.resolve(Checkpoint.FILE))).as("no checkpoint of a diverged run").isFalse();
    }

    private static String readLog(Path dir) {
        try {
            return Files.readString(dir.resolve("train.jsonl"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
