package dev.glowserve.cli;

import dev.glowserve.data.Datasets;
import dev.glowserve.data.ImageSet;
import dev.glowserve.flow.Permutation;
import dev.glowserve.train.Ablation;
import dev.glowserve.train.Plots;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The permutation ablation ({@link Ablation}): every run of the plan not yet done under {@code --out}, then the table
 * and the curves from all that are. Stopping it and running it again resumes.
 */
@Command(name = "ablation", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train the same Glow with each channel permutation and coupling from the same seeds; table and curves.")
public final class AblationCommand implements Callable<Integer> {

    @Option(names = "--out", description = "Folder of the runs, one per variant and seed: each finished run's result.json and "
            + "train.jsonl are kept in git (checkpoints and models are not), so the table grows over sessions. Default: ${DEFAULT-VALUE}")
    Path out = Path.of("docs", "ablation");

    @Option(names = "--data", description = "IDX or PNG dataset folder. Default: ${DEFAULT-VALUE}")
    Path data = Datasets.FASHION_MNIST;

    @Option(names = {"-K", "--flows"}, description = "Flow steps per level. Default: ${DEFAULT-VALUE}")
    int flows = 8;

    @Option(names = {"-L", "--levels"}, description = "Levels. Default: ${DEFAULT-VALUE}")
    int levels = 2;

    @Option(names = "--hidden", description = "Coupling hidden channels. Default: ${DEFAULT-VALUE}")
    int hidden = 64;

    @Option(names = "--permutations", split = ",", description = "Default: ${DEFAULT-VALUE}")
    List<String> permutations = List.of("reverse", "shuffle", "conv-lu", "conv");

    @Option(names = "--couplings", split = ",", description = "additive, affine. Default: ${DEFAULT-VALUE}")
    List<String> couplings = List.of("additive", "affine");

    @Option(names = "--seeds", split = ",", description = "Default: ${DEFAULT-VALUE}")
    List<Long> seeds = List.of(1L, 2L, 3L);

    @Option(names = "--steps", description = "Steps per run. Default: ${DEFAULT-VALUE}")
    long steps = 3000;

    @Option(names = "--batch", description = "Default: ${DEFAULT-VALUE}")
    int batch = 64;

    @Option(names = "--lr", description = "Learning rate (constant after the warmup). Default: ${DEFAULT-VALUE}")
    double lr = 1e-3;

    @Option(names = "--eval-every", description = "Test bits/dim on --eval-images every N steps, for the curves. Default: ${DEFAULT-VALUE}")
    int evalEvery = 250;

    @Option(names = "--eval-images", description = "Default: ${DEFAULT-VALUE}")
    int evalImages = 500;

    @Option(names = "--test-images", description = "Test images of the final score. Default: ${DEFAULT-VALUE}")
    int testImages = 10_000;

    @Option(names = "--draws", description = "Dequantisation draws of the final score. Default: ${DEFAULT-VALUE}")
    int draws = 4;

    @Option(names = "--train-limit", description = "Train on the first N training images only (a quick run). Default: all")
    int trainLimit;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        List<Permutation> perms = new ArrayList<>();
        List<Boolean> affine = new ArrayList<>();
        try {
            permutations.forEach(p -> perms.add(Permutation.of(p)));
            for (String c : couplings) {
                if (!c.equals("affine") && !c.equals("additive")) {
                    throw new IllegalArgumentException("coupling '" + c + "' is not additive or affine");
                }
                affine.add(c.equals("affine"));
            }
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        dev.glowserve.runtime.Workers.configureForWorkers(0); // before the engine starts
        ImageSet train = Datasets.load(data, Datasets.Split.TRAIN);
        if (trainLimit > 0) {
            train = train.head(trainLimit);
        }
        ImageSet test = Datasets.load(data, Datasets.Split.TEST);
        Ablation.Plan plan = new Ablation.Plan(perms, affine, seeds, flows, levels, hidden,
                batch, lr, steps, evalEvery, evalImages, Math.min(testImages, test.count()), draws);
        Files.createDirectories(out);
        List<Ablation.Result> results = Ablation.run(plan, train, test, out, p -> { }, System.err::println);
        Map<Ablation.Result, List<double[]>> curveOf = new java.util.IdentityHashMap<>();
        Map<String, List<List<double[]>>> curves = new LinkedHashMap<>();
        for (Ablation.Result r : results) {
            List<double[]> curve = Ablation.curve(out.resolve(r.name()));
            curveOf.put(r, curve);
            curves.computeIfAbsent(r.variant(), k -> new ArrayList<>()).add(curve);
        }
        String table = Ablation.table(results, curveOf::get);
        System.out.print(table);
        Files.writeString(out.resolve("table.md"), table);
        String title = String.format(java.util.Locale.ROOT, "K=%d L=%d hidden %d, %d steps, mean of %s seeds", flows,
                levels, hidden, steps, Arrays.toString(seeds.toArray()));
        Plots.curves(curves, 0, title, out.resolve("curves-steps.png"));
        Plots.curves(curves, 1, title, out.resolve("curves-seconds.png"));
        System.err.println("table: " + out.resolve("table.md") + "  curves: " + out.resolve("curves-steps.png") + ", "
                + out.resolve("curves-seconds.png"));
        return 0;
    }
}
