package dev.glowserve.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.ArtifactSource;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.data.Datasets;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;
import dev.glowserve.train.Checkpoint;
import dev.glowserve.train.TrainOptions;
import dev.glowserve.train.Trainer;
import dev.glowserve.train.TrainingData;
import dev.glowserve.train.TrainingReport;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code glow-serve train}: trains a model, shows progress, and writes curves, samples and the artifact. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a Glow model on an IDX or PNG dataset (default: Fashion-MNIST from Debian's "
                + "dataset-fashion-mnist).", "Writes OUT/train.jsonl, OUT/checkpoint.safetensors, OUT/bpd.png, "
                + "OUT/samples.png, OUT/reconstructions.png and the model artifact OUT/model/."})
public final class TrainCommand implements Callable<Integer> {

    private static String[] invocation = new String[0];

    /** The command line, recorded in the manifest so a model says exactly how it was made. */
    public static void recordInvocation(String[] args) {
        invocation = args.length > 0 && args[0].equals("train") ? Arrays.copyOfRange(args, 1, args.length) : args;
    }

    @Option(names = "--data", description = "IDX or PNG dataset folder. Default: ${DEFAULT-VALUE}")
    Path data = Datasets.FASHION_MNIST;

    @Option(names = "--out", description = "Output folder. Default: runs/<time>")
    Path out;

    @Option(names = "--name", description = "Model name in the manifest. Default: ${DEFAULT-VALUE}")
    String name = "glow";

    @picocli.CommandLine.Mixin
    ArchitectureOptions architecture = new ArchitectureOptions();

    @Option(names = "--additive", description = "Additive instead of affine coupling")
    boolean additive;

    @Option(names = "--permutation", description = "How a step mixes its channels: conv-lu (the invertible 1x1 convolution, "
            + "LU-parametrised), conv (a plain matrix, slogdet), reverse or shuffle (fixed; shuffle from --seed, stored with the "
            + "weights). Default: ${DEFAULT-VALUE}")
    String permutation = "conv-lu";

    @Option(names = "--plain-w", description = "Same as --permutation conv")
    boolean plain;

    @Option(names = "--n-bits", description = "Bits per pixel the model sees (1..8). Default: ${DEFAULT-VALUE}")
    int nBits = 8;

    @Option(names = "--conditional", description = "Class-conditional top prior (needs labels)")
    boolean conditional;

    @Option(names = "--batch", description = "Batch size. Default: ${DEFAULT-VALUE}")
    int batch = 64;

    @Option(names = "--lr", description = "Peak learning rate (Adam). Default: ${DEFAULT-VALUE}")
    double lr = 1e-3;

    @Option(names = "--warmup", description = "Linear warmup steps; -1 = auto: 10%% of the budget, at most 200. Default: ${DEFAULT-VALUE}")
    int warmup = TrainOptions.AUTO_WARMUP;

    @Option(names = "--schedule", description = "constant or cosine (decay over the budget). Default: ${DEFAULT-VALUE}")
    String schedule = "cosine";

    @Option(names = "--steps", description = "Step budget (0 = none)")
    long steps;

    @Option(names = "--minutes", description = "Wall-time budget in minutes (0 = none)")
    double minutes;

    @Option(names = "--grad-clip", description = "Clip the gradient norm to this (0 = off). Default: ${DEFAULT-VALUE}")
    double gradClip = 50;

    @Option(names = "--seed", description = "Seed for init, data order and noise. Default: ${DEFAULT-VALUE}")
    long seed = 1;

    @Option(names = "--eval-every", description = "Test bits/dim every N steps (0 = only at the end). Default: ${DEFAULT-VALUE}")
    int evalEvery = 250;

    @Option(names = "--eval-images", description = "Test images for periodic evals. Default: ${DEFAULT-VALUE}")
    int evalImages = 1000;

    @Option(names = "--checkpoint-every", description = "Checkpoint every N steps. Default: ${DEFAULT-VALUE}")
    int checkpointEvery = 100;

    @Option(names = "--max-bad-steps", description = "Stop after this many non-finite steps in a row. Default: ${DEFAULT-VALUE}")
    int maxBadSteps = 10;

    @Option(names = "--train-limit", description = "Use only the first N training images (0 = all)")
    int trainLimit;

    @Option(names = "--final-eval-images", description = "Test images for the final bits/dim (0 = all). Default: all")
    int finalEvalImages;

    @Option(names = "--resume", description = "Continue from OUT/checkpoint.safetensors")
    boolean resume;

    @Option(names = "--init", paramLabel = "MODEL", description = "Start from this trained model's weights (folder or "
            + "classpath:DIR, the same architecture flags) with a fresh optimizer and schedule, instead of a fresh "
            + "initialisation: continued training")
    String init;

    @Option(names = "--ema", paramLabel = "DECAY", description = "Keep a moving average of the weights with this decay per "
            + "step and evaluate, plot and ship it instead of the live weights (0 = off). Default: ${DEFAULT-VALUE}")
    double ema = 0.999;

    @Option(names = "--workers", description = "Threads that each train on a slice of every batch, with cores/workers "
            + "intra-op threads each (0 = one per core on CPU; one on a GPU). Default: ${DEFAULT-VALUE}")
    int workers;

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        if (workers < 0) {
            throw new IllegalArgumentException("--workers must be 0 (auto) or more, got " + workers);
        }
        dev.glowserve.runtime.Workers.configureForWorkers(workers); // before the engine starts
        Path dir = out != null ? out : Path.of("runs", Instant.now().toString().replace(':', '-'));
        TrainOptions o = new TrainOptions(architecture.flows, architecture.levels, architecture.hidden, !additive, plain ? "conv" : permutation, nBits, conditional, batch, lr, warmup,
                schedule, steps, minutes * 60, gradClip, seed, evalEvery, evalImages, checkpointEvery, maxBadSteps, trainLimit, ema);
        if (resume && init != null) {
            throw new IllegalArgumentException("--init starts a run and --resume continues one: give one of them");
        }
        if (resume) {
            Path ck = dir.resolve(Checkpoint.FILE);
            if (!Files.exists(ck)) {
                throw new IllegalArgumentException("--resume: no checkpoint at " + ck);
            }
        }
        ImageSet train = Datasets.load(data, Datasets.Split.TRAIN);
        ImageSet test = Datasets.load(data, Datasets.Split.TEST);
        if (trainLimit > 0) {
            train = train.head(trainLimit);
        }
        if (conditional && train.labels() == null) {
            throw new IllegalArgumentException("--conditional needs labels; " + data + " has none");
        }
        System.err.printf(Locale.ROOT, "training on %d images (%dx%dx%d) from %s, testing on %d; output in %s%n",
                train.count(), train.channels(), train.height(), train.width(), train.source(), test.count(), dir);
        TrainingData batches = new TrainingData(train, new Quantization(nBits), batch, seed);
        long started = System.nanoTime();
        try (ProgressDisplay progress = new ProgressDisplay(o);
                Trainer trainer = new Trainer(o, batches, test, dir, progress)) {
            System.err.printf(Locale.ROOT, "%s: %,d parameters; %d worker(s) × %s intra-op thread(s)%n",
                    TrainingReport.describe(trainer.glow().config()), trainer.glow().parameters().trainableCount(), trainer.workers(),
                    System.getProperty("ai.djl.pytorch.num_threads"));
            if (resume) {
                trainer.resume();
            } else if (init != null) {
                try (NDManager scratch = NDManager.newBaseManager()) {
                    ModelArtifact.Loaded from = ModelArtifact.load(ArtifactSource.parse(init), scratch, DataType.FLOAT32);
                    trainer.initializeFrom(from.glow().parameters().entries().entrySet().stream().collect(
                            java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> e.getValue().array())), init);
                    from.glow().close();
                }
            }
            trainer.run();
            progress.close();
            ImageSet finalTest = finalEvalImages > 0 ? test.head(finalEvalImages) : test;
            System.err.printf(Locale.ROOT, "scoring %d test images (%s)...%n", finalTest.count(),
                    ema > 0 ? "the weight average" : "the live weights");
            TrainingReport.Result r = TrainingReport.write(trainer, train, finalTest, dir, name,
                    "glow-serve train " + String.join(" ", invocation));
            System.err.printf(Locale.ROOT, "done: %d steps, %.0f s training (%.0f s wall in this run), test %.4f bits/dim on %d images%n",
                    trainer.step(), trainer.seconds(), Duration.ofNanos(System.nanoTime() - started).toMillis() / 1e3,
                    r.testBitsPerDim(), r.testImages());
            System.err.println("model: " + r.modelDir() + "  plots: " + dir.resolve("bpd.png") + ", " + dir.resolve("samples.png"));
        }
        return 0;
    }

    /** A live progress bar on a terminal; a line every 30 s in a log file. */
    static final class ProgressDisplay implements Trainer.Listener, AutoCloseable {
        private final TrainOptions options;
        private final boolean bySteps;
        private ProgressBar bar;
        private boolean closed;

        ProgressDisplay(TrainOptions o) {
            this.options = o;
            this.bySteps = o.maxSteps() > 0;
        }

        /** Built at the first step, so a resumed run's bar starts where it stands and its ETA holds. */
        private ProgressBar bar(Trainer.Progress p) {
            if (bar == null) {
                ProgressBarBuilder b = new ProgressBarBuilder().setTaskName("train")
                        .setInitialMax(bySteps ? options.maxSteps() : Math.round(options.maxSeconds()))
                        .setUnit(bySteps ? " steps" : " s", 1)
                        .setStyle(ProgressBarStyle.ASCII)
                        .startsFrom(bySteps ? p.step() - 1 : Math.round(p.seconds()), Duration.ZERO);
                if (bySteps) {
                    b.showSpeed();
                }
                if (System.console() == null) {
                    b.setConsumer(new DelegatingProgressBarConsumer(System.err::println, 150)).setUpdateIntervalMillis(30_000);
                } else {
                    b.setUpdateIntervalMillis(500);
                }
                bar = b.build();
            }
            return bar;
        }

        @Override
        public void onStep(Trainer.Progress p) {
            ProgressBar bar = bar(p);
            bar.stepTo(bySteps ? p.step() : Math.round(p.seconds()));
            bar.setExtraMessage(String.format(Locale.ROOT, " step %d | %.1f img/s | train %.3f bpd | test %s | lr %.2e",
                    p.step(), p.imagesPerSecond(), p.trainBpd(),
                    p.testBpd() == null ? "-" : String.format(Locale.ROOT, "%.3f", p.testBpd()), p.learningRate()));
        }

        @Override
        public void onMessage(String message) {
            System.err.println(message);
        }

        @Override
        public void close() {
            if (!closed && bar != null) {
                closed = true;
                bar.close();
            }
        }
    }
}
