package dev.glowserve.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.ArtifactException;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.Workers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A training run: the loop over the step and time budget (Adam with linear warmup and an optional cosine decay), ActNorm
 * data init on the first batch, the guard that skips non-finite steps and stops after too many in a row, periodic test
 * bits/dim, atomic checkpoints and a JSON-lines log. One step is {@link OptimizerStep}, the reported pace
 * {@link TrainingPace}, the budget {@link TrainOptions}, checkpoint reading {@link Checkpoint}. Over 300 lines because
 * it owns the run's state (step, seconds, skip streak, history, the last test score) and every way a run starts,
 * continues and ends (fresh, resumed, from trained weights, evaluated, checkpointed, closed), each a short method.
 */
public final class Trainer implements AutoCloseable {

    /** What a progress display needs after each step. */
    public record Progress(long step, long totalSteps, double seconds, double imagesPerSecond, double trainBpd,
            Double testBpd, double learningRate, double etaSeconds) {}

    public interface Listener {
        void onStep(Progress progress);

        default void onMessage(String message) {}
    }

    /** Raised when too many consecutive steps were non-finite. */
    public static final class DivergedException extends RuntimeException {
        DivergedException(String message) {
            super(message);
        }
    }

    private static final int LOG_EVERY = 10;

    /** One worker per group of intra-op threads on CPU, one on a GPU. */
    static int defaultWorkers() {
        return Engine.getInstance().getGpuCount() > 0 ? 1 : Workers.slots();
    }

    public int workers() {
        return workers.workers();
    }

    public TrainOptions options() {
        return options;
    }

    private final TrainOptions options;
    private final TrainingData data;
    private final ImageSet test;
    private final Path outDir;
    private final Listener listener;
    private final Glow glow;
    private final Adam adam = new Adam(0.9, 0.999, 1e-8);
    private final DataParallel workers;
    private final Evaluation evaluation;
    /** The moving average of the weights, evaluated and shipped instead of them; null with {@code --ema 0}. */
    private final WeightAverage average;
    private final List<String> names = new ArrayList<>();
    private final List<NDArray> trainable = new ArrayList<>();
    private final List<HistoryPoint> history = new ArrayList<>();
    private final Quantization quantization;
    private final OptimizerStep optimizer;
    private final TrainingLog log;
    private long step;
    private double seconds;
    private int badStreak;
    private long skipped;
    private Double lastTestBpd;

    public Trainer(TrainOptions options, TrainingData data, ImageSet test, Path outDir, Listener listener) {
        this(options, data, test, outDir, listener, defaultWorkers());
    }

    /**
     * @param workers threads that each run the forward and backward of one slice of every batch on
     *     their own replica of the model (their gradients are added up for the update); the default
     *     is one per group of intra-op threads, as {@link dev.glowserve.runtime.Workers#configureForWorkers} set them up
     */
    public Trainer(TrainOptions options, TrainingData data, ImageSet test, Path outDir, Listener listener, int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be at least 1, got " + workers);
        }
        this.options = options;
        this.data = data;
        this.test = test;
        this.outDir = outDir;
        this.listener = listener == null ? p -> { } : listener;
        this.quantization = new Quantization(options.nBits());
        ImageSet train = data.images();
        GlowConfig config = options.architecture(train.channels(), train.height(), train.width(), train.numClasses());
        this.glow = Glow.create(config, NDManager.newBaseManager(), DataType.FLOAT32, options.seed());
        glow.parameters().entries().forEach((name, e) -> {
            if (e.trainable()) {
                names.add(name);
                trainable.add(e.array());
            }
        });
        adam.initialize(namedTrainable());
        this.workers = new DataParallel(glow, Math.min(workers, options.batchSize()), options.seed());
        this.evaluation = new Evaluation(this.workers);
        this.average = options.emaDecay() > 0 ? new WeightAverage(glow, options.emaDecay(), options.seed()) : null;
        this.optimizer = new OptimizerStep(glow, this.workers, adam, names, trainable, quantization, options.gradClip(), average);
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.log = new TrainingLog(outDir.resolve("train.jsonl"));
    }

    /** The live weights, the ones the optimizer moves. */
    public Glow glow() {
        return glow;
    }

    /** The model that is evaluated and shipped: the moving average of the weights, or the live ones without EMA. */
    public Glow evaluated() {
        return average != null ? average.glow() : glow;
    }

    public long step() {
        return step;
    }

    public double seconds() {
        return seconds;
    }

    public List<HistoryPoint> history() {
        return history;
    }

    public long skippedSteps() {
        return skipped;
    }

    private Map<String, NDArray> namedTrainable() {
        Map<String, NDArray> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            m.put(names.get(i), trainable.get(i));
        }
        return m;
    }

    public Path checkpointFile() {
        return outDir.resolve(Checkpoint.FILE);
    }

    /** Continues from the checkpoint in the output folder; the options must describe the same model. */
    public void resume() {
        Checkpoint.State s = Checkpoint.restore(checkpointFile(), glow, adam, average);
        step = s.step();
        seconds = s.seconds();
        badStreak = s.badStreak();
        skipped = s.skippedSteps();
        history.clear();
        history.addAll(s.history());
        // the evaluated model's last score: the average's where there is one
        lastTestBpd = history.stream().map(p -> p.emaTestBpd() != null ? p.emaTestBpd() : p.testBpd())
                .filter(java.util.Objects::nonNull).reduce((a, b) -> b).orElse(null);
        listener.onMessage("resumed at step " + step + " (" + Math.round(seconds) + " s trained)");
    }

    /**
     * Starts from a trained model's weights instead of a fresh initialisation (ActNorm then keeps them), with
     * fresh optimizer state and schedule: continued training. The architecture must be the options' one.
     */
    public void initializeFrom(Map<String, NDArray> weights, String source) {
        for (Map.Entry<String, FlowParameters.Entry> e : glow.parameters().entries().entrySet()) {
            NDArray src = weights.get(e.getKey());
            if (src == null) {
                throw new ArtifactException(source + ": no tensor '" + e.getKey() + "' for " + Architecture.of(glow.config())
                        + "; give the architecture flags of the model it continues");
            }
            if (!src.getShape().equals(e.getValue().array().getShape())) {
                throw new ArtifactException(source + ": '" + e.getKey() + "' is " + src.getShape() + ", this model's is "
                        + e.getValue().array().getShape() + "; give the architecture flags of the model it continues");
            }
            src.copyTo(e.getValue().array());
        }
        glow.markInitialized();
        glow.parameters().markUpdated();
        if (average != null) {
            average.copyAll();
        }
        listener.onMessage("initialised from " + source);
    }

    /** Runs {@code n} more steps past the budget (for benchmarks that time single steps). */
    public void extraSteps(int n) {
        for (int i = 0; i < n; i++) {
            OptimizerStep.Result r = optimizer.take(data.batch(step), options.learningRateAt(step, 1));
            step++;
            if (r.skipped()) {
                throw new DivergedException("benchmark step skipped: " + r.reason());
            }
        }
    }

    /** Trains until the step or time budget is spent. */
    public void run() {
        if (!glow.initialized()) {
            initializeActNorm();
            if (average != null) {
                average.copyAll();
            }
        }
        glow.parameters().requireGradients();
        TrainingPace pace = new TrainingPace(options.batchSize());
        while (!options.budgetSpent(step, seconds)) {
            long started = System.nanoTime();
            double lr = options.learningRateAt(step, options.progress(step, seconds));
            OptimizerStep.Result r = optimizer.take(data.batch(step), lr);
            step++;
            seconds += (System.nanoTime() - started) / 1e9;
            if (r.skipped()) {
                skip(r);
            } else {
                badStreak = 0;
            }
            pace.add(r);
            afterStep(r, lr, pace);
        }
        if (options.evalEvery() > 0 && (history.isEmpty() || history.get(history.size() - 1).testBpd() == null)) {
            evaluate();
        }
        checkpoint();
    }

    /** A skipped step is logged; too many in a row stop the run before a checkpoint could keep bad weights. */
    private void skip(OptimizerStep.Result r) {
        skipped++;
        badStreak++;
        log.write(Map.of("event", "skip", "step", step, "reason", r.reason()));
        listener.onMessage("step " + step + " skipped: " + r.reason());
        if (badStreak >= options.maxBadSteps()) {
            throw new DivergedException(badStreak + " non-finite steps in a row (last: " + r.reason()
                    + "); stopped without writing the bad weights");
        }
    }

    /** The log line every {@link #LOG_EVERY} steps, evaluation and checkpoint when due, and the listener. */
    private void afterStep(OptimizerStep.Result r, double lr, TrainingPace pace) {
        double trainBpd = pace.meanBpd();
        if (step % LOG_EVERY == 0 && pace.hasMean()) {
            history.add(new HistoryPoint(step, seconds, trainBpd, null, lr, null));
            log.write(Map.of("event", "train", "step", step, "seconds", round(seconds), "train_bpd", round(trainBpd),
                    "learning_rate", lr, "grad_norm", round(r.gradNorm()), "images_per_second", round(pace.imagesPerSecond())));
            pace.restartMean();
        }
        if (options.evalEvery() > 0 && step % options.evalEvery() == 0) {
            evaluate();
        }
        if (options.checkpointEvery() > 0 && step % options.checkpointEvery() == 0) {
            checkpoint();
        }
        long totalSteps = options.maxSteps() > 0 ? options.maxSteps() : -1;
        double rate = pace.imagesPerSecond();
        listener.onStep(new Progress(step, totalSteps, seconds, rate, trainBpd, lastTestBpd, lr, options.etaSeconds(step, seconds, rate)));
    }

    private static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1e5) / 1e5 : v;
    }

    private void initializeActNorm() {
        optimizer.initializeActNorm(data.batch(0));
        listener.onMessage("ActNorm initialised from the first batch");
    }

    /** The loss and the gradient of every trainable parameter on one batch, without an update (for tests). */
    double gradients(TrainingData.Batch batch, Map<String, double[]> out) {
        if (!glow.initialized()) {
            initializeActNorm();
        }
        glow.parameters().requireGradients();
        return optimizer.gradients(batch, out);
    }

    /**
     * Mean test bits/dim (mid-bin, marginal over classes) on the first {@code eval_images} test images, of the
     * evaluated model (the weight average) and, with EMA on, of the live weights beside it.
     */
    public double evaluate() {
        ImageSet images = test.head(options.evalImages() > 0 ? options.evalImages() : test.count());
        double live = evaluation.meanBitsPerDim(glow, manifest(), images);
        Double averaged = average != null ? evaluation.meanBitsPerDim(average.glow(), manifest(), images) : null;
        double bpd = averaged != null ? averaged : live;
        lastTestBpd = bpd;
        history.add(new HistoryPoint(step, seconds, null, live, null, averaged));
        Map<String, Object> event = new java.util.LinkedHashMap<>(Map.of("event", "eval", "step", step,
                "seconds", round(seconds), "test_bpd", round(live)));
        if (averaged != null) {
            event.put("ema_test_bpd", round(averaged));
        }
        log.write(event);
        return bpd;
    }

    /** Per-image test bits/dim of the evaluated model (the weight average, or the live weights without EMA). */
    public double[] perImageBitsPerDim(ImageSet images) {
        return evaluation.perImageBitsPerDim(evaluated(), manifest(), images);
    }

    public Manifest manifest() {
        ImageSet train = data.images();
        return new Manifest("model", "1", Architecture.of(glow.config()), options.nBits(), train.source(),
                glow.config().conditional() ? train.classNames() : null, null, null, null);
    }

    /** Writes the checkpoint; refuses to if any weight is non-finite, keeping the last good one. */
    public void checkpoint() {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int i = 0; i < trainable.size(); i++) {
                NDArray p = trainable.get(i);
                if (p.isNaN().any().getBoolean() || p.isInfinite().any().getBoolean()) {
                    throw new DivergedException("parameter " + names.get(i) + " is not finite; checkpoint not written");
                }
            }
        }
        try {
            Checkpoint.write(checkpointFile(), new Checkpoint.State(step, adam.updates(), seconds, badStreak, skipped,
                    options, Architecture.of(glow.config()), List.copyOf(history)), glow.parameters(), adam,
                    average == null ? Map.of() : average.trainedTensors());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + checkpointFile(), e);
        }
    }

    @Override
    public void close() {
        workers.close();
        if (average != null) {
            average.close();
        }
        log.close();
        adam.close();
        glow.close();
    }
}
