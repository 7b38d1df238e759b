package dev.glowserve.ood;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The drift window and its tests on scores whose distribution is known: draws from the calibration's own
 * distribution (the null hypothesis: false alarms at most at the alarm's level), and shifted ones (detected).
 */
class DriftTest {

    static final Drift.Settings SETTINGS = new Drift.Settings(200, Duration.ofMinutes(10), 0.05, 20);

    /** 5,000 held-out scores of a standard normal, sorted, as a calibration is. */
    static double[] calibration() {
        SplittableRandom r = new SplittableRandom(7);
        double[] c = new double[5000];
        for (int i = 0; i < c.length; i++) {
            c[i] = gaussian(r);
        }
        Arrays.sort(c);
        return c;
    }

    static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    @Test
    void theWindowKeepsItsLastInputsAndNoneOlderThanItsAge() {
        double[] c = calibration();
        Drift d = new Drift(new Drift.Settings(5, Duration.ofSeconds(10), 0.05, 2), c);
        long s = 1_000_000_000L;
        for (int i = 0; i < 8; i++) {
            d.add(i, 0.5, i * s);
        }
        Drift.Report r = d.report(8 * s);
        assertThat(r.inputs()).as("the last five").isEqualTo(5);
        assertThat(r.ageSeconds()).isEqualTo(5.0);
        assertThat(d.report(15 * s).inputs()).as("inputs 3 and 4 are over 10 s old").isEqualTo(3);
        assertThat(d.report(100 * s).inputs()).isZero();
        assertThat(d.report(100 * s).pValue()).as("no inputs, no evidence").isEqualTo(1.0);
        assertThat(r.window().fractions()).hasSize(24);
        assertThat(Arrays.stream(r.window().fractions()).sum()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
        assertThatThrownBy(() -> new Drift.Settings(10, Duration.ofSeconds(1), 1.5, 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void trafficLikeTheCalibrationRarelyAlarmsAndShiftedTrafficDoes() {
        double[] c = calibration();
        SplittableRandom r = new SplittableRandom(11);
        int alarms = 0;
        int windows = 400;
        double smallest = 1;
        for (int w = 0; w < windows; w++) {
            Drift d = new Drift(SETTINGS, c);
            for (int i = 0; i < 200; i++) {
                double x = gaussian(r);
                d.add(x, OutOfDistribution.pValue(x, c), i);
            }
            Drift.Report rep = d.report(200);
            smallest = Math.min(smallest, rep.pValue());
            alarms += rep.pValue() < 0.01 ? 1 : 0;
        }
        // at level 0.01 the alarm may fire in at most ~1% of null windows (here: 4 expected at most, 12 allowed for chance)
        assertThat(alarms).as("false alarms at p < 0.01 in %d windows (smallest p %.2g)", windows, smallest).isLessThanOrEqualTo(12);

        Drift shifted = new Drift(SETTINGS, c);
        for (int i = 0; i < 200; i++) {
            double x = gaussian(r) + 0.5; // half a standard deviation: a higher, more anomalous score
            shifted.add(x, OutOfDistribution.pValue(x, c), i);
        }
        Drift.Report rep = shifted.report(200);
        assertThat(rep.ksP()).isLessThan(1e-6);
        assertThat(rep.binomialP()).isLessThan(1e-3);
        assertThat(rep.flagged()).isGreaterThan(20);
        assertThat(rep.pValue()).isEqualTo(Math.min(1, 2 * Math.min(rep.ksP(), rep.binomialP())));
    }

    @Test
    void theReplayCountsFalseAlarmsAndInputsToAlarm() {
        double[] c = calibration();
        SplittableRandom r = new SplittableRandom(3);
        double[] in = new double[2000];
        double[] out = new double[500];
        for (int i = 0; i < in.length; i++) {
            in[i] = gaussian(r);
        }
        for (int i = 0; i < out.length; i++) {
            out[i] = 4 + gaussian(r); // far above: flagged nearly always
        }
        DriftReplay replay = new DriftReplay(SETTINGS, c, 0.001);
        DriftReplay.FalseAlarms fa = replay.falseAlarms(in, 5, 1);
        assertThat(fa.windows()).isEqualTo(50);
        assertThat(fa.fired()).isLessThanOrEqualTo(2);
        DriftReplay.Detection all = replay.detection(in, out, 1.0, 5, 1000, 1);
        assertThat(all.max()).isBetween(1, 100);
        DriftReplay.Detection none = replay.detection(in, out, 0.0, 2, 100, 1);
        assertThat(none.inputsToAlarm()).as("no alarm without drift").containsOnly(-1);
        assertThat(none.max()).isEqualTo(-1);
    }
}
