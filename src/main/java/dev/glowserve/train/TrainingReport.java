package dev.glowserve.train;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.artifact.ClassMeans;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Png;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Latents;
import dev.glowserve.ood.Complexity;
import dev.glowserve.ood.OodScores;
import dev.glowserve.ood.OodSets;
import dev.glowserve.runtime.ModelRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a finished training run leaves behind, from the evaluated weights (the weight average, or the live ones):
 * the full test score, the model artifact with its class means, the learning curve, samples and reconstructions.
 */
public final class TrainingReport {

    /** The test score of the shipped weights and where the artifact is. */
    public record Result(double testBitsPerDim, int testImages, Path modelDir) {}

    private TrainingReport() {}

    /**
     * Scores {@code test}, then writes DIR/model (manifest, weights, class means, out-of-distribution calibration),
     * DIR/bpd.png, DIR/samples.png and DIR/reconstructions.png.
     */
    public static Result write(Trainer trainer, ImageSet train, ImageSet test, Path dir, String name, String command)
            throws IOException {
        double[] bpd = trainer.perImageBitsPerDim(test);
        double mean = Arrays.stream(bpd).average().orElse(Double.NaN);
        TrainOptions o = trainer.options();
        Manifest m = trainer.manifest().withName(name)
                .withTestResult(mean, quantiles(bpd))
                .withTraining(new Manifest.Training(trainer.step(), trainer.step() * o.batchSize(), trainer.seconds(),
                        o.batchSize(), o.learningRate(), o.seed(), command, Instant.now().toString()));
        m = new Manifest(m.name(), m.version(), m.architecture(), m.nBits(),
                train.source().contains("fashion") ? "fashion-mnist" : train.source(), m.classNames(),
                m.testBitsPerDim(), m.testBitsPerDimQuantiles(), m.training());
        Path modelDir = dir.resolve("model");
        Glow shipped = trainer.evaluated();
        ModelArtifact.save(modelDir, m, shipped);
        if (shipped.config().conditional()) {
            try (ModelRunner means = ModelRunner.builder(m, shipped).name(name).chunkSize(100).borrowing().build()) {
                ClassMeans.write(modelDir, shipped.config(), classMeans(means, train), shipped.manager());
            }
        }
        try (ModelRunner runner = ModelRunner.builder(m, shipped).name(name).chunkSize(64).borrowing().build()) {
            calibrate(runner, test, modelDir);
            Plots.bitsPerDim(trainer.history(), describe(shipped.config()) + String.format(Locale.ROOT,
                    " — test %.3f bits/dim", mean), dir.resolve("bpd.png"));
            writeSamples(runner, dir.resolve("samples.png"));
            writeReconstructions(runner, test, dir.resolve("reconstructions.png"));
        }
        return new Result(mean, test.count(), modelDir);
    }

    /**
     * Calibrates out-of-distribution answers on the second half of the test images, scored as the service scores
     * them (and upside down, for the orientation test); the first half stays unseen by the calibration, for ood-eval.
     */
    static void calibrate(ModelRunner runner, ImageSet test, Path modelDir) throws IOException {
        if (test.count() < 2) {
            return;
        }
        ImageSet held = OodSets.slice(test, test.count() / 2, 0);
        Calibration c = OodScores.calibrate(held.source(), OodScores.of(runner, held, Complexity.PNG_UP, true, n -> {}),
                Complexity.PNG_UP);
        c.write(modelDir);
    }

    public static String describe(GlowConfig c) {
        return String.format(Locale.ROOT, "Glow K=%d L=%d hidden=%d %s %s%s", c.flowsPerLevel(), c.levels(),
                c.hiddenChannels(), c.affine() ? "affine" : "additive", c.permutation().id(),
                c.conditional() ? ", " + c.numClasses() + " classes" : "");
    }

    /** Per class, the mean raw latent z of up to 10,000 training images (for attribute manipulation). */
    public static float[][][] classMeans(ModelRunner runner, ImageSet train) {
        GlowConfig c = runner.config();
        int n = Math.min(10_000, train.count());
        System.err.printf(Locale.ROOT, "measuring class means on %d training images...%n", n);
        int[] sizes = Latents.sizes(c);
        double[][][] sum = new double[c.numClasses()][sizes.length][];
        int[] count = new int[c.numClasses()];
        for (int k = 0; k < c.numClasses(); k++) {
            for (int l = 0; l < sizes.length; l++) {
                sum[k][l] = new double[sizes[l]];
            }
        }
        for (int from = 0; from < n; from += 500) {
            int to = Math.min(n, from + 500);
            List<byte[]> images = new ArrayList<>();
            int[] labels = Arrays.copyOfRange(train.labels(), from, to);
            for (int i = from; i < to; i++) {
                images.add(train.image(i));
            }
            List<ModelRunner.Encoded> enc = runner.encode(images, labels);
            for (int i = 0; i < enc.size(); i++) {
                float[][] z = enc.get(i).z();
                int k = labels[i];
                count[k]++;
                for (int l = 0; l < sizes.length; l++) {
                    for (int j = 0; j < sizes[l]; j++) {
                        sum[k][l][j] += z[l][j];
                    }
                }
            }
        }
        float[][][] means = new float[c.numClasses()][sizes.length][];
        for (int k = 0; k < c.numClasses(); k++) {
            for (int l = 0; l < sizes.length; l++) {
                means[k][l] = new float[sizes[l]];
                for (int j = 0; j < sizes[l]; j++) {
                    means[k][l][j] = count[k] == 0 ? 0 : (float) (sum[k][l][j] / count[k]);
                }
            }
        }
        return means;
    }

    public static Map<String, Double> quantiles(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        Map<String, Double> q = new LinkedHashMap<>();
        for (int p : new int[] {1, 5, 10, 25, 50, 75, 90, 95, 99}) {
            int i = (int) Math.min(sorted.length - 1, Math.round(p / 100.0 * (sorted.length - 1)));
            q.put("p" + p, Math.round(sorted[i] * 1e4) / 1e4);
        }
        return q;
    }

    /** T = 0.7; a conditional model gets one row per class. */
    static void writeSamples(ModelRunner runner, Path file) throws IOException {
        GlowConfig c = runner.config();
        int perRow = 10;
        int rows = c.conditional() ? c.numClasses() : 8;
        int[] labels = null;
        if (c.conditional()) {
            labels = new int[rows * perRow];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = i / perRow;
            }
        }
        List<byte[]> images = runner.decode(Latents.sample(c, rows * perRow, 0.7, 1), labels);
        Files.write(file, Png.grid(images, c.inChannels(), c.height(), c.width(), perRow, 1));
    }

    /** Pairs of test image and decode(encode(image)), which must match exactly. */
    static void writeReconstructions(ModelRunner runner, ImageSet test, Path file) throws IOException {
        GlowConfig c = runner.config();
        int n = Math.min(20, test.count());
        List<byte[]> originals = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            originals.add(test.image(i));
        }
        List<ModelRunner.Encoded> enc = runner.encode(originals, null);
        List<float[][]> eps = enc.stream().map(ModelRunner.Encoded::eps).toList();
        int[] labels = c.conditional() ? enc.stream().mapToInt(e -> e.score().label()).toArray() : null;
        List<byte[]> back = runner.decode(eps, labels);
        List<byte[]> tiles = new ArrayList<>();
        int exact = 0;
        for (int i = 0; i < n; i++) {
            tiles.add(originals.get(i));
            tiles.add(back.get(i));
            exact += Arrays.equals(originals.get(i), back.get(i)) ? 1 : 0;
        }
        Files.write(file, Png.grid(tiles, c.inChannels(), c.height(), c.width(), 10, 1));
        System.err.printf(Locale.ROOT, "reconstructions: %d of %d decode(encode(x)) identical to x%n", exact, n);
    }

}
