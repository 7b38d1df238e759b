package dev.glowserve.train;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class TrainOptionsTest {

    static TrainOptions opts(int warmup, String schedule, long steps, double seconds) {
        return new TrainOptions(2, 2, 8, true, "conv-lu", 8, false, 16, 1e-3, warmup, schedule, steps, seconds, 50, 1, 0, 0, 0, 3, 0, 0);
    }

    @Test
    void warmupRampsLinearlyAndCosineEndsAtOnePercent() {
        TrainOptions o = opts(100, "cosine", 1000, 0);
        assertThat(o.learningRateAt(0, 0)).isCloseTo(1e-5, within(1e-12));
        assertThat(o.learningRateAt(49, 0.049)).isCloseTo(0.5e-3 * (0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * 0.049))), within(1e-12));
        assertThat(o.learningRateAt(500, 0.5)).isCloseTo(1e-3 * (0.01 + 0.99 * 0.5), within(1e-12));
        assertThat(o.learningRateAt(1000, 1.0)).isCloseTo(1e-5, within(1e-12));
        assertThat(opts(0, "constant", 10, 0).learningRateAt(7, 0.7)).isEqualTo(1e-3);
    }

    @Test
    void autoWarmupIsTenPercentOfTheBudgetAtMost200Steps() {
        assertThat(opts(TrainOptions.AUTO_WARMUP, "constant", 300, 0).warmupAt(0, 0)).isEqualTo(30);
        assertThat(opts(TrainOptions.AUTO_WARMUP, "constant", 50_000, 0).warmupAt(0, 0)).isEqualTo(200);
        // a time budget: total steps estimated from progress so far (40 steps in 8% of the time → 500)
        assertThat(opts(TrainOptions.AUTO_WARMUP, "cosine", 0, 720).warmupAt(40, 0.08)).isCloseTo(50, within(1e-9));
    }

    @Test
    void rejectsBudgetlessAndNonsenseOptions() {
        assertThatThrownBy(() -> opts(0, "constant", 0, 0)).hasMessageContaining("budget");
        assertThatThrownBy(() -> opts(0, "linear", 10, 0)).hasMessageContaining("schedule");
        assertThatThrownBy(() -> opts(-5, "constant", 10, 0)).hasMessageContaining("warmup");
        assertThatThrownBy(() -> new TrainOptions(2, 2, 8, true, "conv-lu", 8, false, 16, 1e-3, 0, "constant", 10, 0, 50, 1, 0, 0, 0,
                3, 0, 1.0)).hasMessageContaining("EMA decay");
    }
}
