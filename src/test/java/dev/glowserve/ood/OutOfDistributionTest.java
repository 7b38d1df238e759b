package dev.glowserve.ood;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.ood.OodScores;
import dev.glowserve.runtime.ClientError;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Scores and p-values against direct computation; typicality's batch answer calibrated as its alpha says. */
class OutOfDistributionTest {

    /** Held-out bits/dim ~ N(3, 0.5²) and complexities ~ N(4.7, 0.6²), as the shipped model's are roughly. */
    static Calibration calibration(int n, long seed) {
        Random r = new Random(seed);
        double[] bpd = new double[n];
        double[] cx = new double[n];
        for (int i = 0; i < n; i++) {
            bpd[i] = 3 + 0.5 * r.nextGaussian();
            cx[i] = 4.7 + 0.6 * r.nextGaussian();
        }
        double mean = Arrays.stream(bpd).average().orElseThrow();
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (OutOfDistribution.Method m : OutOfDistribution.Method.values()) {
            if (m.needsUpsideDown()) {
                continue;
            }
            double[] s = new double[n];
            for (int i = 0; i < n; i++) {
                s[i] = OutOfDistribution.score(m, bpd[i], cx[i], mean);
            }
            scores.put(m.id(), s);
        }
        return Calibration.of("synthetic", "png-up", mean, scores);
    }

    @Test
    void pValueIsTheFractionOfHeldOutScoresAtLeastAsHigh() {
        Random r = new Random(1);
        double[] held = new double[501];
        for (int i = 0; i < held.length; i++) {
            held[i] = Math.round(r.nextGaussian() * 4) / 4.0; // many ties
        }
        double[] sorted = held.clone();
        Arrays.sort(sorted);
        for (double s : new double[] {-10, -1, -0.25, 0, 0.25, 0.3, 1, 10, sorted[0], sorted[500]}) {
            long atLeast = Arrays.stream(held).filter(h -> h >= s).count();
            assertThat(OutOfDistribution.pValue(s, sorted)).as("score %s", s).isEqualTo(atLeast / 501.0);
        }
    }

    @Test
    void theFlagStartsJustAboveTheThresholdItReports() {
        Random r = new Random(7);
        for (int n : new int[] {1, 19, 20, 21, 5000}) {
            double[] held = new double[n];
            for (int i = 0; i < n; i++) {
                held[i] = r.nextGaussian();
            }
            Arrays.sort(held);
            for (double alpha : new double[] {0.01, 0.05, 0.3}) {
                double t = OutOfDistribution.flaggedAbove(held, alpha);
                assertThat(OutOfDistribution.pValue(t, held)).as("n %d alpha %s at the threshold", n, alpha).isGreaterThanOrEqualTo(alpha);
                assertThat(OutOfDistribution.pValue(Math.nextUp(t), held)).as("n %d alpha %s just above", n, alpha).isLessThan(alpha);
            }
        }
    }

    @Test
    void eachMethodScoresAsItsDefinitionSays() {
        Calibration c = calibration(2000, 2);
        double[] bpd = {1.9, 3.0, 6.5};
        double[] cx = {2.3, 4.7, 7.9};
        for (OutOfDistribution.Method m : List.of(OutOfDistribution.Method.COMPLEXITY, OutOfDistribution.Method.LIKELIHOOD,
                OutOfDistribution.Method.TYPICALITY)) {
            OutOfDistribution.Verdicts v = OutOfDistribution.judge(m, 0.05, bpd, cx, c);
            for (int i = 0; i < 3; i++) {
                double want = switch (m) {
                    case COMPLEXITY -> bpd[i] - cx[i];
                    case LIKELIHOOD -> bpd[i];
                    case TYPICALITY -> Math.abs(bpd[i] - c.meanBitsPerDim());
                    case ORIENTATION -> throw new AssertionError();
                };
                OutOfDistribution.ImageVerdict iv = v.images().get(i);
                assertThat(iv.score()).isEqualTo(want);
                double[] held = c.sorted(m.id());
                assertThat(iv.pValue()).isEqualTo(Arrays.stream(held).filter(h -> h >= want).count() / (double) held.length);
                assertThat(iv.outlier()).isEqualTo(iv.pValue() < 0.05);
                assertThat(iv.bitsPerDim()).isEqualTo(bpd[i]);
                assertThat(iv.complexityBitsPerDim()).isEqualTo(cx[i]);
            }
            assertThat(v.batch() != null).isEqualTo(m == OutOfDistribution.Method.TYPICALITY);
        }
        // a digit-like image: lower bits/dim than most clothes, but far simpler still: complexity flags it, likelihood does not
        OutOfDistribution.Verdicts digit = OutOfDistribution.judge(OutOfDistribution.Method.COMPLEXITY, 0.05, new double[] {1.9},
                new double[] {2.0}, c);
        assertThat(digit.images().get(0).outlier()).isTrue();
        assertThat(OutOfDistribution.judge(OutOfDistribution.Method.LIKELIHOOD, 0.05, new double[] {1.9}, new double[] {2.0}, c)
                .images().get(0).outlier()).isFalse();
        assertThatThrownBy(() -> OutOfDistribution.Method.of("ratio")).isInstanceOf(ClientError.class)
                .hasMessageContaining("complexity, likelihood, typicality");
    }

    @Test
    void upsideDownReversesEachChannelsRows() {
        byte[] rgb = new byte[3 * 4 * 5];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) i;
        }
        byte[] turned = OutOfDistribution.upsideDown(rgb, 3, 4, 5);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 4; y++) {
                for (int x = 0; x < 5; x++) {
                    assertThat(turned[(c * 4 + y) * 5 + x]).isEqualTo(rgb[(c * 4 + 3 - y) * 5 + x]);
                }
            }
        }
        assertThat(OutOfDistribution.upsideDown(turned, 3, 4, 5)).isEqualTo(rgb);
    }

    /** Held-out measures: bits/dim, complexity, and upside-down bits/dim a little higher (the model knows which way is up). */
    private static OutOfDistribution.Measures held(int n, long seed, double upsideDownCost) {
        Random r = new Random(seed);
        double[] bpd = new double[n], cx = new double[n], turned = new double[n];
        for (int i = 0; i < n; i++) {
            bpd[i] = 3 + 0.5 * r.nextGaussian();
            cx[i] = 4.7 + 0.6 * r.nextGaussian();
            turned[i] = bpd[i] + upsideDownCost + 0.05 * r.nextGaussian();
        }
        return new OutOfDistribution.Measures(bpd, cx, turned);
    }

    @Test
    void orientationIsTheSmallerPValueOfItsTwoTestsCalibrated() {
        OutOfDistribution.Measures held = held(3000, 5, 0.3);
        Calibration c = OodScores.calibrate("synthetic", held, dev.glowserve.ood.Complexity.PNG_UP);
        assertThat(c.scores().keySet()).containsExactly("complexity", "likelihood", "typicality", "upside-down", "orientation");
        double[] upsideDownHeld = c.sorted(OutOfDistribution.UPSIDE_DOWN);
        // an ordinary image; one as simple as a digit; one the wrong way up (likelier turned back over)
        double[] bpd = {3.0, 1.9, 3.0}, cx = {4.7, 2.0, 4.7}, turned = {3.3, 2.2, 2.7};
        OutOfDistribution.Verdicts v = OutOfDistribution.judge(OutOfDistribution.Method.ORIENTATION, 0.05,
                new OutOfDistribution.Measures(bpd, cx, turned), c);
        for (int i = 0; i < 3; i++) {
            int k = i;
            double pc = Arrays.stream(c.sorted("complexity")).filter(h -> h >= bpd[k] - cx[k]).count() / 3000.0;
            double pu = Arrays.stream(upsideDownHeld).filter(h -> h >= bpd[k] - turned[k]).count() / 3000.0;
            double want = 1 - Math.min(pc, pu);
            assertThat(v.images().get(i).score()).isEqualTo(want);
            double[] heldScores = c.sorted("orientation");
            assertThat(v.images().get(i).pValue()).isEqualTo(Arrays.stream(heldScores).filter(h -> h >= want).count() / 3000.0);
        }
        assertThat(v.images()).extracting(OutOfDistribution.ImageVerdict::outlier).containsExactly(false, true, true);
        assertThat(OutOfDistribution.judge(OutOfDistribution.Method.COMPLEXITY, 0.05, bpd, cx, c).images().get(2).outlier())
                .as("complexity alone cannot see which way up an image is").isFalse();

        // fresh in-distribution images are flagged at about alpha: the combination is calibrated, not 2 × alpha
        OutOfDistribution.Measures fresh = held(3000, 6, 0.3);
        double[] p = new double[3000];
        double[] s = OutOfDistribution.scores(OutOfDistribution.Method.ORIENTATION, fresh, c);
        for (int i = 0; i < p.length; i++) {
            p[i] = OutOfDistribution.pValue(s[i], c.sorted("orientation"));
        }
        assertThat(Arrays.stream(p).filter(x -> x < 0.05).count() / 3000.0).isBetween(0.035, 0.065);

        // measures without the upside-down pass cannot be scored by it; a calibration without it answers not-calibrated
        assertThatThrownBy(() -> OutOfDistribution.scores(OutOfDistribution.Method.ORIENTATION,
                new OutOfDistribution.Measures(bpd, cx, null), c)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OutOfDistribution.judge(OutOfDistribution.Method.ORIENTATION, 0.05,
                new OutOfDistribution.Measures(bpd, cx, turned), calibration(100, 1))).isInstanceOf(ClientError.class)
                .hasMessageContaining("calibrate");
    }

    @Test
    void typicalityFlagsBatchesAtTheRateItsAlphaSaysAndShiftedBatchesAlmostAlways() {
        Calibration c = calibration(5000, 3);
        Random fresh = new Random(4); // new in-distribution batches, not the held-out scores themselves
        int flagged = 0, shiftedFlagged = 0, trials = 400;
        for (int t = 0; t < trials; t++) {
            double[] batch = new double[8];
            double[] shifted = new double[8];
            for (int i = 0; i < 8; i++) {
                batch[i] = 3 + 0.5 * fresh.nextGaussian();
                shifted[i] = batch[i] - 0.8; // simpler images: lower bits/dim, as digits have
            }
            flagged += OutOfDistribution.typicality(batch, c, 0.05).outlier() ? 1 : 0;
            shiftedFlagged += OutOfDistribution.typicality(shifted, c, 0.05).outlier() ? 1 : 0;
        }
        assertThat(flagged / (double) trials).isBetween(0.02, 0.09);
        assertThat(shiftedFlagged / (double) trials).isGreaterThan(0.95);

        double[] batch = {2.1, 3.4, 2.8, 3.9};
        OutOfDistribution.BatchVerdict v = OutOfDistribution.typicality(batch, c, 0.05);
        assertThat(v.size()).isEqualTo(4);
        assertThat(v.score()).isCloseTo(Math.abs(3.05 - c.meanBitsPerDim()), within(1e-12));
        assertThat(OutOfDistribution.typicality(batch, c, 0.05)).as("the same batch, the same answer").isEqualTo(v);
        assertThat(OutOfDistribution.typicality(batch, c, 0.01).threshold()).isGreaterThan(v.threshold());
        assertThat(v.outlier()).isEqualTo(v.pValue() < 0.05);
        // the threshold of a batch of M is about z · σ / √M (σ = 0.5)
        assertThat(OutOfDistribution.typicality(new double[16], c, 0.05).threshold()).isCloseTo(1.96 * 0.5 / 4, within(0.03));
    }
}
