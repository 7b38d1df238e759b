package dev.glowserve.ood;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** AUROC, AUPR and FPR at 95% TPR against brute-force definitions. */
class OodMetricsTest {

    static double[] gaussian(Random r, int n, double mean, boolean ties) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = mean + r.nextGaussian();
            if (ties) {
                v[i] = Math.round(v[i] * 2) / 2.0;
            }
        }
        return v;
    }

    @Test
    void aurocIsTheProbabilityAnOutScoreIsHigherCountingTiesHalf() {
        Random r = new Random(1);
        for (boolean ties : new boolean[] {false, true}) {
            double[] in = gaussian(r, 300, 0, ties);
            double[] out = gaussian(r, 200, 1, ties);
            double pairs = 0;
            for (double o : out) {
                for (double i : in) {
                    pairs += o > i ? 1 : o == i ? 0.5 : 0;
                }
            }
            assertThat(OodMetrics.auroc(in, out)).isCloseTo(pairs / (300.0 * 200), within(1e-12));
        }
        assertThat(OodMetrics.auroc(new double[] {1, 2}, new double[] {3, 4})).isEqualTo(1.0);
        assertThat(OodMetrics.auroc(new double[] {3, 4}, new double[] {1, 2})).isEqualTo(0.0);
    }

    @Test
    void auprIsTheMeanPrecisionAtEachOutImageByDescendingScore() {
        Random r = new Random(2);
        double[] in = gaussian(r, 250, 0, false);
        double[] out = gaussian(r, 150, 0.8, false);
        Integer[] order = new Integer[400];
        for (int i = 0; i < 400; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(value(in, out, b), value(in, out, a)));
        double sum = 0;
        int positives = 0;
        for (int k = 0; k < 400; k++) {
            if (order[k] >= 250) {
                positives++;
                sum += positives / (k + 1.0);
            }
        }
        assertThat(OodMetrics.aupr(in, out)).isCloseTo(sum / 150, within(1e-12));
        // ties: all scores equal, precision is the share of out images
        assertThat(OodMetrics.aupr(new double[] {1, 1, 1}, new double[] {1})).isCloseTo(0.25, within(1e-12));
    }

    private static double value(double[] in, double[] out, int i) {
        return i < in.length ? in[i] : out[i - in.length];
    }

    @Test
    void fprAt95TprCountsInImagesAboveTheThresholdKeeping95PercentOfOutImages() {
        double[] out = new double[100];
        for (int i = 0; i < 100; i++) {
            out[i] = i; // 95% kept: the threshold is 5
        }
        double[] in = {0, 1, 2, 3, 4, 4.9, 5, 6, 50, 99};
        assertThat(OodMetrics.fprAt95Tpr(in, out)).isEqualTo(0.4);
        assertThat(OodMetrics.flagged(new double[] {0.01, 0.049, 0.05, 0.5}, 0.05)).isEqualTo(0.5);
    }
}
