package dev.glowserve.bench;

import dev.glowserve.data.Datasets;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.Workers;
import dev.glowserve.train.TrainOptions;
import dev.glowserve.train.Trainer;
import dev.glowserve.train.TrainingData;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Training benchmark, side by side in one run: the step throughput of an architecture at batch
 * 64, then two runs of the same wall-time budget from the same initialisation and data order — the
 * reference schedule (Adam 1e-3, no warmup, constant) and this project's default (warmup, cosine
 * decay, clipping) — each scored on the full test set.
 */
public final class TrainBench {

    /** What one schedule reached. */
    public record Outcome(String schedule, long steps, double seconds, double imagesPerSecond, double testBitsPerDim) {}

    private TrainBench() {}

    /**
     * The benchmark as {@code bench --train} prints it: the step throughput ({@code steps} timed steps, their median)
     * against the matMul ceiling, then with {@code minutes} above 0 the two schedules' table.
     */
    public static void report(int flows, int levels, int hidden, int steps, double minutes) throws IOException {
        ImageSet trainSet = trainSet();
        ImageSet testSet = testSet();
        Path dir = Files.createTempDirectory("glow-train-bench");
        int workers = Workers.slots();
        System.out.printf(Locale.ROOT, "glow-serve bench --train: K=%d L=%d hidden=%d, batch 64, %d worker(s) × %s intra-op thread(s)%n",
                flows, levels, hidden, workers, System.getProperty("ai.djl.pytorch.num_threads"));
        double ceiling;
        double rate;
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        try {
            ceiling = InferenceBench.ceiling(null, workers, pool);
            rate = medianStepImagesPerSecond(flows, levels, hidden, 64, steps, trainSet, testSet, dir.resolve("throughput"));
            ceiling = Math.max(ceiling, InferenceBench.ceiling(null, workers, pool));
        } finally {
            pool.shutdownNow();
        }
        double flops = 3 * FlopCount.perImage(GlowConfig.of(1, 28, 28, flows, levels, hidden)); // forward + backward ≈ 3 forwards
        System.out.printf(Locale.ROOT, "training throughput: %.1f img/s (median of %d steps), ≈%.1f GFLOP/s, matMul ceiling %.1f GFLOP/s%n",
                rate, steps, rate * flops / 1e9, ceiling);
        if (minutes > 0) {
            List<Outcome> outcomes = compareSchedules(flows, levels, hidden, minutes, trainSet, testSet, dir.resolve("schedules"), null);
            System.out.println();
            System.out.println("| schedule | minutes | steps | img/s | test bits/dim (10,000 images) |");
            System.out.println("|---|---:|---:|---:|---:|");
            for (Outcome o : outcomes) {
                System.out.printf(Locale.ROOT, "| %s | %.1f | %d | %.1f | %.4f |%n", o.schedule(), o.seconds() / 60, o.steps(),
                        o.imagesPerSecond(), o.testBitsPerDim());
            }
        }
    }

    public static double medianStepImagesPerSecond(int flows, int levels, int hidden, int batch, int steps, ImageSet train,
            ImageSet test, Path dir) {
        TrainOptions o = new TrainOptions(flows, levels, hidden, true, "conv-lu", 8, false, batch, 1e-3, 0, "constant", 1, 0,
                50, 1, 0, 0, 0, 10, 0, 0);
        try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), batch, 1), test, dir, null)) {
            t.run(); // ActNorm init and one warm-up step
            double[] times = new double[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                t.extraSteps(1);
                times[i] = (System.nanoTime() - t0) / 1e9;
            }
            Arrays.sort(times);
            return batch / times[steps / 2];
        }
    }

    public static List<Outcome> compareSchedules(int flows, int levels, int hidden, double minutes, ImageSet train, ImageSet test,
            Path dir, Trainer.Listener listener) throws java.io.IOException {
        List<Outcome> out = new ArrayList<>();
        Map<String, TrainOptions> schedules = new java.util.LinkedHashMap<>();
        // the reference's schedule: Adam 1e-3 from the first step, no warmup, no decay, no clipping
        schedules.put("reference (Adam 1e-3, no warmup)", new TrainOptions(flows, levels, hidden, true, "conv-lu", 8, false, 64, 1e-3,
                0, "constant", 0, minutes * 60, 0, 1, 0, 0, 0, 10, 0, 0));
        // this project's default schedule (the train command's defaults)
        schedules.put("glow-serve default (auto warmup, cosine, clip 50)", new TrainOptions(flows, levels, hidden, true, "conv-lu", 8,
                false, 64, 1e-3, TrainOptions.AUTO_WARMUP, "cosine", 0, minutes * 60, 50, 1, 0, 0, 0, 10, 0, 0));
        int i = 0;
        for (Map.Entry<String, TrainOptions> e : schedules.entrySet()) {
            Path runDir = dir.resolve("schedule-" + i++);
            Files.createDirectories(runDir);
            TrainOptions o = e.getValue();
            try (Trainer t = new Trainer(o, new TrainingData(train, new Quantization(8), o.batchSize(), o.seed()), test, runDir, listener)) {
                t.run();
                double bpd = Arrays.stream(t.perImageBitsPerDim(test)).average().orElse(Double.NaN);
                out.add(new Outcome(e.getKey(), t.step(), t.seconds(), t.step() * o.batchSize() / t.seconds(), bpd));
                System.err.printf(Locale.ROOT, "%s: %d steps in %.0f s, test %.4f bits/dim%n", e.getKey(), t.step(), t.seconds(), bpd);
            }
        }
        return out;
    }

    public static ImageSet trainSet() {
        return Datasets.load(Datasets.FASHION_MNIST, Datasets.Split.TRAIN);
    }

    public static ImageSet testSet() {
        return Datasets.load(Datasets.FASHION_MNIST, Datasets.Split.TEST);
    }
}
