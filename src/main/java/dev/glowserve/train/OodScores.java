package dev.glowserve.train;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.data.Complexity;
import dev.glowserve.data.ImageSet;
import dev.glowserve.inference.ModelRunner;
import dev.glowserve.inference.OutOfDistribution;
import dev.glowserve.inference.OutOfDistribution.Method;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * What out-of-distribution scores are made of, for a set of images: each image's bits/dim under the model (the
 * marginal over classes, as {@code /ood} scores an image of unknown class) and its compressed bits/dim; and the
 * calibration made from them.
 */
public final class OodScores {

    /** Images scored in one call: large enough to keep the model busy, small enough for a progress bar. */
    static final int CHUNK = 256;

    /** Per image: bits/dim, and complexity in bits/dim. */
    public record Scored(double[] bitsPerDim, double[] complexity) {
        public int count() {
            return bitsPerDim.length;
        }

        /** Each image's score under {@code method}; typicality's per image measured from {@code meanBitsPerDim}. */
        public double[] scores(Method method, double meanBitsPerDim) {
            double[] s = new double[count()];
            for (int i = 0; i < s.length; i++) {
                s[i] = OutOfDistribution.score(method, bitsPerDim[i], complexity[i], meanBitsPerDim);
            }
            return s;
        }

        public double meanBitsPerDim() {
            double sum = 0;
            for (double b : bitsPerDim) {
                sum += b;
            }
            return sum / bitsPerDim.length;
        }
    }

    private OodScores() {}

    /** Scores every image of {@code set}; {@code progress} hears how many are done after each chunk. */
    public static Scored of(ModelRunner runner, ImageSet set, Complexity compressor, IntConsumer progress) {
        double[] bpd = new double[set.count()];
        double[] cx = new double[set.count()];
        for (int start = 0; start < set.count(); start += CHUNK) {
            int end = Math.min(set.count(), start + CHUNK);
            List<byte[]> images = new ArrayList<>(end - start);
            for (int i = start; i < end; i++) {
                byte[] image = set.image(i);
                images.add(image);
                cx[i] = compressor.bitsPerDim(image, set.channels(), set.height(), set.width());
            }
            List<ModelRunner.Score> scores = runner.score(images, null);
            for (int i = start; i < end; i++) {
                bpd[i] = scores.get(i - start).bitsPerDim();
            }
            progress.accept(end);
        }
        return new Scored(bpd, cx);
    }

    /** Complexity of each image of {@code set}, with bits/dim scored elsewhere (the trainer's own test scores). */
    public static Scored withBitsPerDim(double[] bitsPerDim, ImageSet set, Complexity compressor) {
        double[] cx = new double[set.count()];
        for (int i = 0; i < cx.length; i++) {
            cx[i] = compressor.bitsPerDim(set.image(i), set.channels(), set.height(), set.width());
        }
        return new Scored(bitsPerDim, cx);
    }

    /** The calibration of every method on held-out in-distribution images. */
    public static Calibration calibrate(String source, Scored held, Complexity compressor) {
        double mean = held.meanBitsPerDim();
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (Method m : Method.values()) {
            scores.put(m.id(), held.scores(m, mean));
        }
        return Calibration.of(source, compressor.id(), mean, scores);
    }
}
