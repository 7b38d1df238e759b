package dev.glowserve.ood;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.runtime.ClientError;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

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
        TYPICALITY("typicality"),
        /**
         * Complexity, and whether the image is likelier upside down than as it came (bits/dim of the image minus that of
         * the image turned upside down): the smaller of the two p-values, itself calibrated. It catches images the wrong
         * way up, which complexity cannot, for a second pass over every image (batched with the first; docs/OOD.md).
         */
        ORIENTATION("orientation");

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
            throw ClientError.unprocessable("unknown-method", "method '" + id + "' is not one of " + IDS);
        }

        /** Whether the method needs each image's upside-down twin scored too. */
        public boolean needsUpsideDown() {
            return this == ORIENTATION;
        }
    }

    /** Every method's name, for messages. */
    public static final String IDS = String.join(", ", Arrays.stream(Method.values()).map(Method::id).toList());
    /** The calibration's key for the held-out distribution of bits/dim(x) − bits/dim(x upside down). */
    public static final String UPSIDE_DOWN = "upside-down";

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

    /**
     * What is measured of each image: bits/dim, complexity in bits/dim, and (for the methods that need it, else null)
     * the bits/dim of the image turned upside down.
     */
    public record Measures(double[] bitsPerDim, double[] complexity, double[] upsideDownBitsPerDim) {
        public Measures {
            if (complexity.length != bitsPerDim.length || upsideDownBitsPerDim != null && upsideDownBitsPerDim.length != bitsPerDim.length) {
                throw new IllegalArgumentException("measures of different lengths");
            }
        }

        public int count() {
            return bitsPerDim.length;
        }

        public double meanBitsPerDim() {
            return Arrays.stream(bitsPerDim).average().orElse(Double.NaN);
        }
    }

    /**
     * The image's score under one of the methods scored from its own measures alone (all but orientation);
     * typicality's per image is the batch of one.
     */
    public static double score(Method method, double bitsPerDim, double complexityBitsPerDim, double meanBitsPerDim) {
        return switch (method) {
            case COMPLEXITY -> bitsPerDim - complexityBitsPerDim;
            case LIKELIHOOD -> bitsPerDim;
            case TYPICALITY -> Math.abs(bitsPerDim - meanBitsPerDim);
            case ORIENTATION -> throw new IllegalArgumentException("orientation is scored against a calibration");
        };
    }

    /** Each image's score under {@code method}; orientation's from the p-values of its two tests under {@code c}. */
    public static double[] scores(Method method, Measures x, Calibration c) {
        if (method == Method.ORIENTATION) {
            if (x.upsideDownBitsPerDim() == null) {
                throw new IllegalArgumentException("orientation needs the upside-down images' bits/dim");
            }
            double[] complexity = required(c, Method.COMPLEXITY.id());
            double[] upsideDown = required(c, UPSIDE_DOWN);
            double[] s = new double[x.count()];
            for (int i = 0; i < s.length; i++) {
                double pc = pValue(x.bitsPerDim()[i] - x.complexity()[i], complexity);
                double pu = pValue(x.bitsPerDim()[i] - x.upsideDownBitsPerDim()[i], upsideDown);
                s[i] = 1 - Math.min(pc, pu);
            }
            return s;
        }
        return scores(method, x, c.meanBitsPerDim());
    }

    /** Each image's score under a method scored from its own measures (all but orientation), typicality's from {@code meanBitsPerDim}. */
    public static double[] scores(Method method, Measures x, double meanBitsPerDim) {
        double[] s = new double[x.count()];
        for (int i = 0; i < s.length; i++) {
            s[i] = score(method, x.bitsPerDim()[i], x.complexity()[i], meanBitsPerDim);
        }
        return s;
    }

    private static double[] required(Calibration c, String key) {
        double[] held = c.sorted(key);
        if (held == null) {
            throw ClientError.unprocessable("not-calibrated", "the model's calibration has no scores for '" + key
                    + "': calibrate it again with glow-serve calibrate");
        }
        return held;
    }

    /**
     * The measures of {@code images} (C×H×W each), the one way the service and calibrate/ood-eval measure them: the
     * model's bits/dim ({@code bitsPerDim}, which may run on other threads and finish later), with {@code upsideDown}
     * the bits/dim of each image turned upside down, and the compressor's bits/dim, computed on the calling thread
     * while the model works.
     */
    public static CompletableFuture<Measures> measure(List<byte[]> images, int channels, int height, int width,
            Complexity compressor, boolean upsideDown, Function<List<byte[]>, CompletableFuture<double[]>> bitsPerDim) {
        CompletableFuture<double[]> bpd = bitsPerDim.apply(images);
        CompletableFuture<double[]> turned = !upsideDown ? CompletableFuture.completedFuture(null)
                : bitsPerDim.apply(images.stream().map(im -> upsideDown(im, channels, height, width)).toList());
        double[] complexity = new double[images.size()];
        for (int i = 0; i < complexity.length; i++) {
            complexity[i] = compressor.bitsPerDim(images.get(i), channels, height, width);
        }
        return bpd.thenCombine(turned, (x, t) -> new Measures(x, complexity, t));
    }

    /** C×H×W pixels turned upside down: each channel's rows in reverse order. */
    public static byte[] upsideDown(byte[] pixels, int channels, int height, int width) {
        byte[] out = new byte[pixels.length];
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < height; y++) {
                System.arraycopy(pixels, (c * height + y) * width, out, (c * height + height - 1 - y) * width, width);
            }
        }
        return out;
    }

    /** The fraction of {@code sorted} (ascending) at least {@code score}. */
    public static double pValue(double score, double[] sorted) {
        return (double) countAtLeast(sorted, score) / sorted.length;
    }

    /** How many of {@code sorted} (ascending) are at least {@code v}. */
    public static int countAtLeast(double[] sorted, double v) {
        int lo = 0, hi = sorted.length; // first index with sorted[i] >= v
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < v) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return sorted.length - lo;
    }

    /** The score above which an image is an outlier at {@code alpha}: fewer than alpha of {@code sorted} reach past it. */
    public static double flaggedAbove(double[] sorted, double alpha) {
        int k = (int) Math.ceil(alpha * sorted.length) - 1;
        return sorted[Math.max(0, sorted.length - 1 - k)];
    }

    /** Judges images from their bits/dim and complexity (methods that need no upside-down twin); {@code alpha} in (0, 1). */
    public static Verdicts judge(Method method, double alpha, double[] bitsPerDim, double[] complexity, Calibration c) {
        return judge(method, alpha, new Measures(bitsPerDim, complexity, null), c);
    }

    /** Judges images from what was measured of them; {@code alpha} in (0, 1). */
    public static Verdicts judge(Method method, double alpha, Measures x, Calibration c) {
        double[] held = required(c, method.id());
        double[] s = scores(method, x, c);
        List<ImageVerdict> images = new ArrayList<>(s.length);
        for (int i = 0; i < s.length; i++) {
            double p = pValue(s[i], held);
            images.add(new ImageVerdict(x.bitsPerDim()[i], x.complexity()[i], s[i], p, p < alpha));
        }
        BatchVerdict batch = method == Method.TYPICALITY ? typicality(x.bitsPerDim(), c, alpha) : null;
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
