package dev.glowserve.ood;

import dev.glowserve.ood.OutOfDistribution;

import java.util.Arrays;

/**
 * How well a score tells out-of-distribution images (positives, higher scores) from in-distribution ones: AUROC,
 * AUPR (average precision, out-of-distribution as positive) and the false-positive rate at 95% true positives.
 */
public final class OodMetrics {

    /** The three figures for one score on one pair of sets. */
    public record Separation(double auroc, double aupr, double fprAt95Tpr) {}

    private OodMetrics() {}

    public static Separation of(double[] in, double[] out) {
        return new Separation(auroc(in, out), aupr(in, out), fprAt95Tpr(in, out));
    }

    /** P(an out score > an in score) + ½ P(equal), by ranks (ties share their mean rank). */
    public static double auroc(double[] in, double[] out) {
        int n = in.length + out.length;
        double[] v = new double[n];
        boolean[] positive = new boolean[n];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            v[i] = i < in.length ? in[i] : out[i - in.length];
            positive[i] = i >= in.length;
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(v[a], v[b]));
        double rankSum = 0;
        for (int i = 0; i < n; ) {
            int j = i;
            while (j < n && v[order[j]] == v[order[i]]) {
                j++;
            }
            double mean = (i + 1 + j) / 2.0; // ranks i+1 .. j
            for (int k = i; k < j; k++) {
                if (positive[order[k]]) {
                    rankSum += mean;
                }
            }
            i = j;
        }
        double p = out.length;
        return (rankSum - p * (p + 1) / 2) / (p * in.length);
    }

    /** Average precision with out-of-distribution images as positives, thresholds at every distinct score (ties as one). */
    public static double aupr(double[] in, double[] out) {
        double[] inSorted = in.clone();
        double[] outSorted = out.clone();
        Arrays.sort(inSorted);
        Arrays.sort(outSorted);
        double ap = 0;
        int i = outSorted.length - 1;
        while (i >= 0) {
            double t = outSorted[i];
            int j = i;
            while (j >= 0 && outSorted[j] == t) {
                j--;
            }
            int truePositives = outSorted.length - 1 - j; // out scores >= t
            int falsePositives = OutOfDistribution.countAtLeast(inSorted, t);
            double precision = (double) truePositives / (truePositives + falsePositives);
            ap += precision * (i - j) / outSorted.length; // recall rises by the tied positives
            i = j;
        }
        return ap;
    }

    /** The fraction of in-distribution scores at or above the threshold that keeps 95% of the out-of-distribution ones. */
    public static double fprAt95Tpr(double[] in, double[] out) {
        double[] o = out.clone();
        Arrays.sort(o);
        int keep = (int) Math.ceil(0.95 * o.length);
        double threshold = o[o.length - keep];
        double[] s = in.clone();
        Arrays.sort(s);
        return OutOfDistribution.pValue(threshold, s);
    }

    /** The fraction of {@code pValues} below {@code alpha}. */
    public static double flagged(double[] pValues, double alpha) {
        int k = 0;
        for (double p : pValues) {
            if (p < alpha) {
                k++;
            }
        }
        return (double) k / pValues.length;
    }
}
