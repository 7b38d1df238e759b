package dev.glowserve.train;

import ai.djl.Device;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.Permutation;
import dev.glowserve.runtime.ModelLoader;
import dev.glowserve.runtime.ModelRunner;
import org.apache.commons.math3.stat.StatUtils;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The paper's Figure 3 at this machine's scale: the same small Glow trained with each way of mixing channels
 * (fixed reverse and shuffle permutations, the plain and the LU 1×1 convolution) and each coupling, from the same
 * seeds (the same data order, and every other layer initialised alike), for a fixed number of steps; then scored on
 * the test images, mid-bin and uniformly dequantised (the metric fixed before any run: the mean over the test images
 * of the dequantised bits/dim, E over {@code draws} noise draws, with its standard error). Each run lives in its own
 * folder and writes {@code result.json} when done: a run cut short resumes from its checkpoint, a finished one is not
 * run again, so the table can be made over several sessions.
 */
public final class Ablation {

    /** The runs' shared settings. */
    public record Plan(List<Permutation> permutations, List<Boolean> affine, List<Long> seeds, int flowsPerLevel, int levels,
            int hidden, int batch, double learningRate, long steps, int evalEvery, int evalImages, int testImages, int draws) {}

    /** One finished run's figures. */
    public record Result(String permutation, String coupling, long seed, long steps, double trainSeconds, double stepSeconds,
            double testBitsPerDim, double dequantizedBitsPerDim, double dequantizedStandardError, int testImages, int draws) {

        /** The run's folder under the ablation's output. */
        public String name() {
            return Ablation.name(Permutation.of(permutation), coupling.equals("affine"), seed);
        }

        /** "permutation / coupling": what its seeds are grouped under in the table and the curves. */
        public String variant() {
            return permutation + " / " + coupling;
        }
    }

    private Ablation() {}

    public static String name(Permutation p, boolean affine, long seed) {
        return p.id() + "-" + (affine ? "affine" : "additive") + "-s" + seed;
    }

    /** Runs every run of the plan not yet done under {@code out}; {@code progress} hears a line per run. */
    public static List<Result> run(Plan plan, ImageSet train, ImageSet test, Path out, Trainer.Listener listener,
            java.util.function.Consumer<String> progress) throws IOException {
        List<Result> results = new ArrayList<>();
        for (long seed : plan.seeds()) {
            for (boolean affine : plan.affine()) {
                for (Permutation p : plan.permutations()) {
                    Path dir = out.resolve(name(p, affine, seed));
                    Result done = read(dir);
                    if (done == null) {
                        progress.accept("run " + dir.getFileName() + ": " + plan.steps() + " steps");
                        done = runOne(plan, p, affine, seed, train, test, dir, listener);
                    } else {
                        progress.accept("run " + dir.getFileName() + ": done before, kept");
                    }
                    results.add(done);
                }
            }
        }
        return results;
    }

    private static Result runOne(Plan plan, Permutation p, boolean affine, long seed, ImageSet train, ImageSet test, Path dir,
            Trainer.Listener listener) throws IOException {
        TrainOptions o = new TrainOptions(plan.flowsPerLevel(), plan.levels(), plan.hidden(), affine, p.id(), 8, false, plan.batch(),
                plan.learningRate(), TrainOptions.AUTO_WARMUP, "constant", plan.steps(), 0, 50, seed, plan.evalEvery(),
                plan.evalImages(), 100, 10, 0, 0);
        Path model = dir.resolve("model");
        ImageSet scored = test.head(plan.testImages());
        try (Trainer trainer = new Trainer(o, new TrainingData(train, new Quantization(8), plan.batch(), seed), test, dir, listener)) {
            if (Files.exists(dir.resolve(Checkpoint.FILE))) {
                trainer.resume();
            }
            trainer.run();
            ModelArtifact.save(model, trainer.manifest().withName(name(p, affine, seed)), trainer.glow());
            try (ModelRunner runner = ModelLoader.open(model.toString(), Device.cpu(), 64)) {
                List<byte[]> images = new ArrayList<>(scored.count());
                for (int i = 0; i < scored.count(); i++) {
                    images.add(scored.image(i));
                }
                double mid = runner.score(images, null).stream().mapToDouble(ModelRunner.Score::bitsPerDim).average().orElse(Double.NaN);
                ModelRunner.DequantizedScores dequantized = runner.dequantizedBitsPerDim(images, null, seed, plan.draws(), () -> { });
                Result r = new Result(p.id(), affine ? "affine" : "additive", seed, trainer.step(), trainer.seconds(),
                        trainer.seconds() / Math.max(1, trainer.step()), mid, dequantized.mean(), dequantized.standardError(),
                        images.size(), plan.draws());
                Files.write(dir.resolve("result.json"), ModelArtifact.JSON.writeValueAsBytes(r));
                return r;
            }
        }
    }

    private static Result read(Path dir) throws IOException {
        Path f = dir.resolve("result.json");
        return Files.isRegularFile(f) ? ModelArtifact.JSON.readValue(f.toFile(), Result.class) : null;
    }

    /** The eval points of a run's log: (step, seconds, test bits/dim on the eval images). */
    public static List<double[]> curve(Path dir) throws IOException {
        List<double[]> points = new ArrayList<>();
        Path log = dir.resolve("train.jsonl");
        if (!Files.isRegularFile(log)) {
            return points;
        }
        for (String line : Files.readAllLines(log)) {
            JsonNode e = ModelArtifact.JSON.readTree(line);
            if ("eval".equals(e.path("event").asString())) {
                points.add(new double[] {e.get("step").asDouble(), e.get("seconds").asDouble(), e.get("test_bpd").asDouble()});
            }
        }
        return points;
    }

    /**
     * The tables, in markdown. Per permutation and coupling: mean ± sd over seeds of the dequantised and mid-bin test
     * bits/dim, of the curve's bits/dim a third of the way (how fast it converges) and of the step time; each seed's
     * difference from the LU 1×1 convolution with the same coupling and seed, and their mean ± sd. Per permutation:
     * affine's difference from additive, per seed. Then every run. {@code curve} gives a run's eval points.
     */
    public static String table(List<Result> results, java.util.function.Function<Result, List<double[]>> curve) {
        Map<String, List<Result>> byVariant = new LinkedHashMap<>();
        for (Result r : results) {
            byVariant.computeIfAbsent(r.variant(), k -> new ArrayList<>()).add(r);
        }
        long early = earlyStep(results, curve);
        StringBuilder out = new StringBuilder("| permutation / coupling | seeds | dequantised test bits/dim | mid-bin | "
                + "at step " + early + " (eval images) | step ms | dequantised − conv-lu's, per seed | mean ± sd |\n"
                + "|---|---:|---:|---:|---:|---:|---|---:|\n");
        for (Map.Entry<String, List<Result>> e : byVariant.entrySet()) {
            List<Result> rs = e.getValue();
            List<Double> paired = new ArrayList<>();
            for (Result r : rs) {
                find(results, "conv-lu", r.coupling(), r.seed()).filter(b -> !r.permutation().equals("conv-lu"))
                        .ifPresent(b -> paired.add(r.dequantizedBitsPerDim() - b.dequantizedBitsPerDim()));
            }
            double[] atEarly = rs.stream().mapToDouble(r -> curve.apply(r).stream().filter(p -> p[0] == early)
                    .mapToDouble(p -> p[2]).findFirst().orElse(Double.NaN)).toArray();
            out.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %s | %s | %s | %s |%n", e.getKey(), rs.size(),
                    meanSd(rs.stream().mapToDouble(Result::dequantizedBitsPerDim).toArray(), "%.4f"),
                    meanSd(rs.stream().mapToDouble(Result::testBitsPerDim).toArray(), "%.4f"), meanSd(atEarly, "%.4f"),
                    meanSd(rs.stream().mapToDouble(r -> 1000 * r.stepSeconds()).toArray(), "%.0f"), signed(paired),
                    paired.isEmpty() ? "" : meanSd(paired.stream().mapToDouble(Double::doubleValue).toArray(), "%+.4f")));
        }
        out.append("\n| permutation | dequantised affine − additive, per seed | mean ± sd |\n|---|---|---:|\n");
        for (String permutation : results.stream().map(Result::permutation).distinct().toList()) {
            List<Double> gain = new ArrayList<>();
            for (Result r : results) {
                if (r.permutation().equals(permutation) && r.coupling().equals("affine")) {
                    find(results, permutation, "additive", r.seed()).ifPresent(a -> gain.add(r.dequantizedBitsPerDim() - a.dequantizedBitsPerDim()));
                }
            }
            if (!gain.isEmpty()) {
                out.append(String.format(Locale.ROOT, "| %s | %s | %s |%n", permutation, signed(gain),
                        meanSd(gain.stream().mapToDouble(Double::doubleValue).toArray(), "%+.4f")));
            }
        }
        out.append("\n| run | steps | dequantised test bits/dim ± standard error | mid-bin | training s | step ms |\n"
                + "|---|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            out.append(String.format(Locale.ROOT, "| %s | %d | %.4f ± %.4f | %.4f | %.0f | %.0f |%n",
                    r.name(), r.steps(),
                    r.dequantizedBitsPerDim(), r.dequantizedStandardError(), r.testBitsPerDim(), r.trainSeconds(), 1000 * r.stepSeconds()));
        }
        return out.toString();
    }

    /** The eval step nearest a third of the runs' steps that every run's curve has (0 when none has one). */
    private static long earlyStep(List<Result> results, java.util.function.Function<Result, List<double[]>> curve) {
        long steps = results.stream().mapToLong(Result::steps).min().orElse(0);
        java.util.Set<Double> common = null;
        for (Result r : results) {
            java.util.Set<Double> these = new java.util.HashSet<>();
            curve.apply(r).forEach(p -> these.add(p[0]));
            if (common == null) {
                common = these;
            } else {
                common.retainAll(these);
            }
        }
        return common == null ? 0 : common.stream().mapToLong(Double::longValue)
                .boxed().min(java.util.Comparator.comparingLong(s -> Math.abs(3 * s - steps))).orElse(0L);
    }

    private static java.util.Optional<Result> find(List<Result> results, String permutation, String coupling, long seed) {
        return results.stream().filter(b -> b.permutation().equals(permutation) && b.coupling().equals(coupling) && b.seed() == seed)
                .findFirst();
    }

    private static String signed(List<Double> values) {
        return String.join(" ", values.stream().map(v -> String.format(Locale.ROOT, "%+.4f", v)).toList());
    }

    private static String meanSd(double[] x, String format) {
        double mean = StatUtils.mean(x);
        if (x.length < 2) {
            return String.format(Locale.ROOT, format, mean);
        }
        double sd = Math.sqrt(StatUtils.variance(x, mean));
        return String.format(Locale.ROOT, format + " ± " + format.replace("+", ""), mean, sd);
    }
}
