package dev.glowserve.cli;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.data.ImageSet;
import dev.glowserve.ood.Complexity;
import dev.glowserve.ood.OodScores;
import dev.glowserve.ood.OodSets;
import dev.glowserve.ood.OutOfDistribution;
import dev.glowserve.runtime.ModelRunner;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Calibrates a model's out-of-distribution answers: scores held-out in-distribution images under every method and
 * writes the sorted scores into the model folder ({@code calibration.json}), where {@code /ood} finds them.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Calibrate out-of-distribution answers on held-out in-distribution images (writes DIR/calibration.json).")
public final class CalibrateCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Option(names = "--idx", paramLabel = "FILE", required = true,
            description = "Held-out in-distribution images: an IDX file (gzip or raw) or a folder of PNGs")
    Path idx;

    @Option(names = "--skip", description = "Leave out the first N images (kept for evaluation). Default: ${DEFAULT-VALUE}")
    int skip;

    @Option(names = "--limit", description = "Use at most N images after --skip. Default: all")
    int limit;

    @Option(names = "--compressor", description = "png-up, png-paeth or png-none. Default: ${DEFAULT-VALUE}")
    String compressor = Complexity.PNG_UP.id();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        if (model.model.startsWith("classpath:") || !Files.isDirectory(Path.of(model.model))) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--model must be a model folder to write "
                    + Calibration.FILE + " into, not " + model.model);
        }
        Complexity c = Complexity.of(compressor);
        ImageSet held = OodSets.slice(OodSets.read(idx), skip, limit);
        Calibration calibration;
        try (ModelRunner runner = model.open(64)) {
            if (held.channels() != runner.config().inChannels() || held.height() != runner.config().height()
                    || held.width() != runner.config().width()) {
                throw new CommandLine.ParameterException(spec.commandLine(), idx + ": images are " + held.channels() + "×"
                        + held.height() + "×" + held.width() + ", the model's " + runner.config().inChannels() + "×"
                        + runner.config().height() + "×" + runner.config().width());
            }
            OutOfDistribution.Measures scored;
            try (ProgressBar bar = ProgressBars.images("calibrate", held.count())) {
                scored = OodScores.of(runner, held, c, true, bar::stepTo); // each image, as it is and upside down
            }
            calibration = OodScores.calibrate(held.source(), scored, c);
        }
        calibration.write(Path.of(model.model));
        System.out.printf(Locale.ROOT, "%s: %d held-out images (%s), mean %.4f bits/dim, compressor %s%n",
                Path.of(model.model).resolve(Calibration.FILE), calibration.images(), calibration.source(),
                calibration.meanBitsPerDim(), calibration.compressor());
        System.out.println("| method | median held-out score | flagged above (alpha 0.05) | flagged above (alpha 0.001) |");
        System.out.println("|---|---:|---:|---:|");
        for (OutOfDistribution.Method m : OutOfDistribution.Method.values()) {
            double[] s = calibration.sorted(m.id());
            System.out.printf(Locale.ROOT, "| %s | %.4f | %.4f | %.4f |%n", m.id(), s[s.length / 2],
                    OutOfDistribution.flaggedAbove(s, 0.05), OutOfDistribution.flaggedAbove(s, 0.001));
        }
        return 0;
    }
}
