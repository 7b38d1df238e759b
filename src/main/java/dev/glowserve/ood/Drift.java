package dev.glowserve.ood;

import org.apache.commons.math3.stat.inference.AlternativeHypothesis;
import org.apache.commons.math3.stat.inference.BinomialTest;
import org.apache.commons.math3.stat.inference.KolmogorovSmirnovTest;

import java.time.Duration;
import java.util.Arrays;

/**
 * Whether the recent inputs of a model still look like its calibration: a sliding window of their OOD scores (the
 * last {@code size} inputs, none older than {@code maxAge}) tested against the held-out in-distribution scores. Under
 * the null hypothesis the window's inputs are exchangeable with the calibration images, so each is flagged at
 * {@code alpha} with probability at most alpha (a one-sided binomial test of the flag count) and their scores have
 * the calibration's distribution (a two-sample Kolmogorov–Smirnov test). The drift p-value is the smaller of the two,
 * doubled (Bonferroni): an alarm at p &lt; a fires, for exchangeable traffic, in at most a fraction a of disjoint
 * windows. Thread-safe.
 */
public final class Drift {

    /** The window's bounds, the flag's alpha, and the fewest inputs the tests are run on (fewer: p = 1). */
    public record Settings(int size, Duration maxAge, double alpha, int minInputs) {
        public Settings {
            if (size < 2 || minInputs < 2 || minInputs > size || !(alpha > 0 && alpha < 1) || maxAge.isNegative() || maxAge.isZero()) {
                throw new IllegalArgumentException("drift window: size " + size + ", min-inputs " + minInputs + ", alpha " + alpha
                        + ", max-age " + maxAge + " (need 2 <= min-inputs <= size, 0 < alpha < 1, max-age > 0)");
            }
        }
    }

    /** Counts per bin of a histogram over shared edges, as fractions of its values. */
    public record Histogram(double[] edges, double[] fractions) {}

    /**
     * The window's state: its size and age (seconds since its oldest input), how many were flagged, each test's
     * statistic and p-value, the drift p-value, and the window's scores beside the calibration's on the same bins.
     */
    public record Report(int inputs, double ageSeconds, int flagged, double alpha, double binomialP, double ksStatistic,
            double ksP, double pValue, Histogram window, Histogram calibration) {}

    private static final int BINS = 24;

    private final Settings settings;
    private final double[] calibration;
    private final double[] scores;
    private final boolean[] flags;
    private final long[] times;
    private int next;
    private int count;

    /** {@code calibration}: the held-out scores of the method the window's scores are made by, sorted ascending. */
    public Drift(Settings settings, double[] calibration) {
        if (calibration.length < 2) {
            throw new IllegalArgumentException("a calibration of " + calibration.length + " scores cannot be tested against");
        }
        this.settings = settings;
        this.calibration = calibration;
        this.scores = new double[settings.size()];
        this.flags = new boolean[settings.size()];
        this.times = new long[settings.size()];
    }

    public Settings settings() {
        return settings;
    }

    /** One input's score at {@code nanoTime} (System.nanoTime); it is flagged when its p-value is below alpha. */
    public synchronized void add(double score, double pValue, long nanoTime) {
        scores[next] = score;
        flags[next] = pValue < settings.alpha();
        times[next] = nanoTime;
        next = (next + 1) % scores.length;
        count = Math.min(count + 1, scores.length);
    }

    /** The window as of {@code nanoTime}, its inputs older than the maximum age left out, and its tests. */
    public Report report(long nanoTime) {
        double[] window;
        int flagged = 0;
        long oldest = nanoTime;
        synchronized (this) {
            long cutoff = nanoTime - settings.maxAge().toNanos();
            double[] kept = new double[count];
            int n = 0;
            for (int i = 0; i < count; i++) {
                int at = Math.floorMod(next - 1 - i, scores.length);
                if (times[at] - cutoff < 0) {
                    break; // older ones follow
                }
                kept[n++] = scores[at];
                flagged += flags[at] ? 1 : 0;
                oldest = times[at];
            }
            window = Arrays.copyOf(kept, n);
        }
        double binomial = 1;
        double ksStatistic = 0;
        double ks = 1;
        if (window.length >= settings.minInputs()) {
            binomial = new BinomialTest().binomialTest(window.length, flagged, settings.alpha(), AlternativeHypothesis.GREATER_THAN);
            KolmogorovSmirnovTest test = new KolmogorovSmirnovTest();
            ksStatistic = test.kolmogorovSmirnovStatistic(window, calibration);
            ks = test.kolmogorovSmirnovTest(window, calibration);
        }
        double p = Math.min(1, 2 * Math.min(binomial, ks));
        double[] edges = edges(window);
        return new Report(window.length, (nanoTime - oldest) / 1e9, flagged, settings.alpha(), binomial, ksStatistic, ks, p,
                new Histogram(edges, fractions(window, edges)), new Histogram(edges, fractions(calibration, edges)));
    }

    /** Bins spanning the calibration's middle 99.8% and whatever of the window lies beyond it. */
    private double[] edges(double[] window) {
        double lo = calibration[(int) (0.001 * calibration.length)];
        double hi = calibration[(int) Math.ceil(0.999 * (calibration.length - 1))];
        for (double x : window) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        if (!(hi > lo)) {
            hi = lo + 1;
        }
        double[] edges = new double[BINS + 1];
        for (int i = 0; i <= BINS; i++) {
            edges[i] = lo + (hi - lo) * i / BINS;
        }
        return edges;
    }

    private static double[] fractions(double[] values, double[] edges) {
        double[] f = new double[edges.length - 1];
        if (values.length == 0) {
            return f;
        }
        double width = (edges[edges.length - 1] - edges[0]) / f.length;
        for (double v : values) {
            int bin = (int) Math.floor((v - edges[0]) / width);
            f[Math.max(0, Math.min(f.length - 1, bin))] += 1.0 / values.length;
        }
        return f;
    }
}
