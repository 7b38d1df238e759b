package dev.glowserve.ood;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.data.ImageSet;
import dev.glowserve.ood.Complexity;
import dev.glowserve.ood.OutOfDistribution.Measures;
import dev.glowserve.ood.OutOfDistribution.Method;
import dev.glowserve.ood.OutOfDistribution;
import dev.glowserve.runtime.ModelRunner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntConsumer;

/**
 * What out-of-distribution scores are made of, for a set of images: each image's bits/dim under the model (the
 * marginal over classes, as {@code /ood} scores an image of unknown class) and its compressed bits/dim; and the
 * calibration made from them.
 */
public final class OodScores {

    /** Images scored in one call: large enough to keep the model busy, small enough for a progress bar. */
    static final int CHUNK = 256;

    private OodScores() {}

    /**
     * Scores every image of {@code set}, and each one upside down when {@code upsideDown}; {@code progress} hears how
     * many images are done after each chunk.
     */
    public static Measures of(ModelRunner runner, ImageSet set, Complexity compressor, boolean upsideDown, IntConsumer progress) {
        double[] bpd = new double[set.count()];
        double[] cx = new double[set.count()];
        double[] turned = upsideDown ? new double[set.count()] : null;
        for (int start = 0; start < set.count(); start += CHUNK) {
            int end = Math.min(set.count(), start + CHUNK);
            List<byte[]> images = new ArrayList<>(end - start);
            for (int i = start; i < end; i++) {
                images.add(set.image(i));
            }
            Measures chunk = OutOfDistribution.measure(images, set.channels(), set.height(), set.width(), compressor, upsideDown,
                    batch -> CompletableFuture.completedFuture(runner.score(batch, null).stream()
                            .mapToDouble(ModelRunner.Score::bitsPerDim).toArray())).join();
            System.arraycopy(chunk.bitsPerDim(), 0, bpd, start, chunk.count());
            System.arraycopy(chunk.complexity(), 0, cx, start, chunk.count());
            if (upsideDown) {
                System.arraycopy(chunk.upsideDownBitsPerDim(), 0, turned, start, chunk.count());
            }
            progress.accept(end);
        }
        return new Measures(bpd, cx, turned);
    }

    /**
     * The calibration of every method on held-out in-distribution images (orientation only when they were scored
     * upside down too: its score is made of the p-values of two tests on these same images).
     */
    public static Calibration calibrate(String source, Measures held, Complexity compressor) {
        double mean = held.meanBitsPerDim();
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (Method m : Method.values()) {
            if (!m.needsUpsideDown()) {
                scores.put(m.id(), OutOfDistribution.scores(m, held, mean));
            }
        }
        if (held.upsideDownBitsPerDim() == null) {
            return Calibration.of(source, compressor.id(), mean, scores);
        }
        double[] turned = new double[held.count()];
        for (int i = 0; i < turned.length; i++) {
            turned[i] = held.bitsPerDim()[i] - held.upsideDownBitsPerDim()[i];
        }
        scores.put(OutOfDistribution.UPSIDE_DOWN, turned);
        Calibration tests = Calibration.of(source, compressor.id(), mean, scores);
        scores.put(Method.ORIENTATION.id(), OutOfDistribution.scores(Method.ORIENTATION, held, tests));
        return Calibration.of(source, compressor.id(), mean, scores);
    }
}
