package dev.glowserve.inference;

import dev.glowserve.artifact.Calibration;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Out-of-distribution scores of images (higher: less like the training data) and their calibrated p-values: the
 * fraction of held-out in-distribution images ({@link Calibration}) whose score is at least as high. Raw
 * likelihood fails at this (Nalisnick et al. 2019: digits get higher likelihood than clothes); what ships as the
 * default is measured in docs/OOD.md.
 */
public final class OutOfDistribution {

    /** How an image is scored. */
    public enum Method {
        /** bits/dim minus a lossless compressor's bits/dim (Serrà et al. 2020): what the model knows beyond any image's complexity. */
        COMPLEXITY("complexity"),
        /** bits/dim alone, for comparison. */
        LIKELIHOOD("likelihood"),
        /**
         * Distance of the mean bits/dim from the held-out mean (Nalisnick et al. 2019b), for a batch as a whole:
         * the batch's answer is calibrated against bootstrap batches of its size from the held-out scores.
         */
        TYPICALITY("typicality");

        private final String id;

        Method(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        public static Method of(String id) {
            for (Method m : values()) {
                if (m.id.equals(id.toLowerCase(Locale.ROOT))) {
                    return m;
                }
            }
            throw InvalidRequest.unprocessable("unknown-method", "method '" + id + "' is not one of complexity, likelihood, typicality");
        }
    }

    public static final Method DEFAULT_METHOD = Method.COMPLEXITY;
    public static final double DEFAULT_ALPHA = 0.05;
    /** Bootstrap batches a typicality answer is calibrated on. */
    static final int BOOTSTRAP_BATCHES = 2000;

    /** One image's answer. */
    public record ImageVerdict(double bitsPerDim, double complexityBitsPerDim, double score, double pValue, boolean outlier) {}

    /** A batch's answer (typicality): the distance of its mean bits/dim, the threshold at alpha, p-value and verdict. */
    public record BatchVerdict(int size, double score, double threshold, double pValue, boolean outlier) {}

    /** The answer for a request: per image, and for the batch as a whole when the method judges batches. */
    public record Verdicts(Method method, double alpha, List<ImageVerdict> images, BatchVerdict batch) {}

    private OutOfDistribution() {}

    /** The image's score under {@code method}; typicality's per image is the batch of one. */
    public static double score(Method method, double bitsPerDim, double complexityBitsPerDim, double meanBitsPerDim) {
        return switch (method) {
            case COMPLEXITY -> bitsPerDim - complexityBitsPerDim;
            case LIKELIHOOD -> bitsPerDim;
            case TYPICALITY -> Math.abs(bitsPerDim - meanBitsPerDim);
        };
    }

    /** The fraction of {@code sorted} (ascending) at least {@code score}. */
    public static double pValue(double score, double[] sorted) {
        int lo = 0, hi = sorted.length; // first index with sorted[i] >= score
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < score) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return (double) (sorted.length - lo) / sorted.length;
    }

    /** The score above which an image is an outlier at {@code alpha}: fewer than alpha of {@code sorted} reach past it. */
    public static double flaggedAbove(double[] sorted, double alpha) {
        int k = (int) Math.ceil(alpha * sorted.length) - 1;
        return sorted[Math.max(0, sorted.length - 1 - k)];
    }

    /** Judges images from their bits/dim and complexity; {@code alpha} in (0, 1). */
    public static Verdicts judge(Method method, double alpha, double[] bitsPerDim, double[] complexity, Calibration c) {
        double[] held = c.sorted(method.id());
        if (held == null) {
            throw InvalidRequest.unprocessable("not-calibrated", "the model's calibration has no scores for method '" + method.id() + "'");
        }
        List<ImageVerdict> images = new ArrayList<>(bitsPerDim.length);
        for (int i = 0; i < bitsPerDim.length; i++) {
            double s = score(method, bitsPerDim[i], complexity[i], c.meanBitsPerDim());
            double p = pValue(s, held);
            images.add(new ImageVerdict(bitsPerDim[i], complexity[i], s, p, p < alpha));
        }
        BatchVerdict batch = method == Method.TYPICALITY ? typicality(bitsPerDim, c, alpha) : null;
        return new Verdicts(method, alpha, images, batch);
    }

    /**
     * The batch's distance |mean bits/dim − held-out mean| against {@link #BOOTSTRAP_BATCHES} batches of the same size
     * drawn with replacement from the held-out bits/dim. The draw is seeded by the size: the same batch always gets
     * the same answer.
     */
    public static BatchVerdict typicality(double[] bitsPerDim, Calibration c, double alpha) {
        double[] held = c.sorted(Method.LIKELIHOOD.id());
        int m = bitsPerDim.length;
        double distance = Math.abs(Arrays.stream(bitsPerDim).average().orElseThrow() - c.meanBitsPerDim());
        double[] boot = new double[BOOTSTRAP_BATCHES];
        SplittableRandom random = new SplittableRandom(0x9E3779B97F4A7C15L ^ m);
        for (int b = 0; b < boot.length; b++) {
            double sum = 0;
            for (int i = 0; i < m; i++) {
                sum += held[random.nextInt(held.length)];
            }
            boot[b] = Math.abs(sum / m - c.meanBitsPerDim());
        }
        Arrays.sort(boot);
        double p = pValue(distance, boot);
        double threshold = boot[Math.min(boot.length - 1, (int) Math.ceil((1 - alpha) * boot.length) - 1)];
        return new BatchVerdict(m, distance, threshold, p, p < alpha);
    }
}
