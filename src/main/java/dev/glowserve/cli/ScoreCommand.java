package dev.glowserve.cli;

import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.Idx;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Png;
import dev.glowserve.flow.Latents;
import dev.glowserve.runtime.ModelRunner;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** Prints log p and bits/dim per image as JSON. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Log-likelihood of images: JSON with log_p_nats and bits_per_dim per image, and the means.")
public final class ScoreCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Parameters(paramLabel = "IMAGE", arity = "0..*", description = "PNG files")
    List<Path> images = new ArrayList<>();

    @Option(names = "--idx", paramLabel = "FILE", description = "An IDX image file (gzip or raw) instead of PNGs")
    Path idx;

    @Option(names = "--limit", description = "Score only the first N images of --idx. Default: all")
    int limit = Integer.MAX_VALUE;

    @Option(names = "--class", paramLabel = "K", description = "Class-conditional models: score under class K (default: marginal over classes)")
    Integer cls;

    @Option(names = "--dequantize", paramLabel = "K", description = "Also the uniformly dequantised bits/dim, the literature's "
            + "figure: each image's bins filled with uniform noise, averaged over K draws (seeded), with its standard error")
    int dequantize;

    @Option(names = "--seed", description = "Seed of the dequantisation noise. Default: ${DEFAULT-VALUE}")
    long seed = 1;

    @Option(names = "--record", description = "Write the dequantised figure into the model folder's manifest.json "
            + "(test_bits_per_dim_dequantized), where the model info shows it: score the test set with it")
    boolean record;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        if (idx == null && images.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give PNG files or --idx FILE");
        }
        List<String> sources = new ArrayList<>();
        List<byte[]> pixels = new ArrayList<>();
        try (ModelRunner runner = model.open(64)) {
            int channels = runner.config().inChannels();
            if (idx != null) {
                ImageSet set = Idx.images(idx, null, null).head(limit);
                check(set.height() == runner.config().height() && set.width() == runner.config().width(),
                        idx + ": images are " + set.width() + "×" + set.height() + ", the model expects "
                                + runner.config().width() + "×" + runner.config().height());
                for (int i = 0; i < set.count(); i++) {
                    sources.add(idx + "#" + i);
                    pixels.add(set.image(i));
                }
            }
            for (Path p : images) {
                Png.Image img = Png.decode(Files.readAllBytes(p), 4096L * 4096).withChannels(channels);
                check(img.height() == runner.config().height() && img.width() == runner.config().width(),
                        p + ": image is " + img.width() + "×" + img.height() + ", the model expects "
                                + runner.config().width() + "×" + runner.config().height());
                sources.add(p.toString());
                pixels.add(img.pixels());
            }
            int[] labels = null;
            if (cls != null) {
                labels = Latents.sampleLabels(runner.config(), pixels.size(), cls, 0);
            }
            List<ModelRunner.Score> scores = runner.score(pixels, labels);
            List<Map<String, Object>> rows = new ArrayList<>();
            double sumLogP = 0, sumBpd = 0;
            for (int i = 0; i < scores.size(); i++) {
                ModelRunner.Score s = scores.get(i);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("image", sources.get(i));
                row.put("log_p_nats", s.logPNats());
                row.put("bits_per_dim", s.bitsPerDim());
                if (s.label() != null) {
                    row.put("class", s.label());
                }
                rows.add(row);
                sumLogP += s.logPNats();
                sumBpd += s.bitsPerDim();
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", runner.name());
            out.put("images", rows);
            out.put("mean_log_p_nats", sumLogP / scores.size());
            out.put("mean_bits_per_dim", sumBpd / scores.size());
            if (dequantize > 0) {
                Manifest.Dequantized d = dequantized(runner, pixels, labels, rows);
                Map<String, Object> summary = new LinkedHashMap<>();
                summary.put("mean_bits_per_dim", d.mean());
                summary.put("standard_error", d.standardError());
                summary.put("draws", d.draws());
                summary.put("seed", d.seed());
                out.put("dequantized", summary);
                if (record) {
                    record(d);
                }
            } else if (record) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--record writes the --dequantize figure: give --dequantize K");
            }
            System.out.println(ModelArtifact.JSON.writeValueAsString(out));
        }
        return 0;
    }

    /** Each image's bits/dim averaged over the draws (added to its row); their mean and its standard error. */
    private Manifest.Dequantized dequantized(ModelRunner runner, List<byte[]> pixels, int[] labels, List<Map<String, Object>> rows) {
        ModelRunner.DequantizedScores scores;
        try (ProgressBar bar = ProgressBars.images("dequantize", (long) dequantize * pixels.size())) {
            scores = runner.dequantizedBitsPerDim(pixels, labels, seed, dequantize, () -> bar.stepBy(pixels.size()));
        }
        for (int i = 0; i < scores.perImage().length; i++) {
            rows.get(i).put("bits_per_dim_dequantized", scores.perImage()[i]);
        }
        String command = "glow-serve score --model " + model.model + (idx != null ? " --idx " + idx : " ...")
                + (limit != Integer.MAX_VALUE ? " --limit " + limit : "") + " --dequantize " + dequantize + " --seed " + seed;
        return new Manifest.Dequantized(scores.mean(), scores.standardError(), dequantize, pixels.size(), seed, command);
    }

    private void record(Manifest.Dequantized d) throws java.io.IOException {
        Path dir = Path.of(model.model);
        Path file = dir.resolve("manifest.json");
        if (!Files.isRegularFile(file)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--record needs --model to be a model folder with a manifest.json");
        }
        Manifest m = ModelArtifact.JSON.readValue(file.toFile(), Manifest.class);
        dev.glowserve.artifact.AtomicFiles.write(file, ModelArtifact.JSON.writeValueAsBytes(m.withDequantized(d)));
    }

    private void check(boolean ok, String message) {
        if (!ok) {
            throw new CommandLine.ParameterException(spec.commandLine(), message);
        }
    }
}
