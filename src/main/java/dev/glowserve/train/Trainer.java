package dev.glowserve.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.ArtifactException;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Pass;
import dev.glowserve.flow.Tensors;
import dev.glowserve.runtime.Workers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The training loop: bits/dim loss, Adam with linear warmup and an optional cosine decay,
 * gradient-norm clipping, ActNorm data init on the first batch, a guard that skips non-finite
 * steps (and stops after too many in a row), LU caches refreshed after every update, periodic
 * test bits/dim, atomic checkpoints and a JSON-lines log.
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
        try (NDManager scratch = glow.manager().newSubManager()) {
            Checkpoint.Loaded ck = Checkpoint.read(checkpointFile(), scratch);
            Checkpoint.State s = ck.state();
            Architecture mine = Architecture.of(glow.config());
            if (!mine.equals(s.architecture())) {
                throw new ArtifactException(checkpointFile() + ": checkpoint is for " + s.architecture() + ", not " + mine);
            }
            for (Map.Entry<String, FlowParameters.Entry> e : glow.parameters().entries().entrySet()) {
                NDArray src = ck.model().get(e.getKey());
                if (src == null) {
                    throw new ArtifactException(checkpointFile() + ": missing tensor '" + e.getKey() + "'");
                }
                src.copyTo(e.getValue().array());
            }
            adam.restore(ck.mean(), ck.variance(), s.adamUpdates());
            if (average != null) {
                if (ck.average().isEmpty()) {
                    throw new ArtifactException(checkpointFile() + ": no weight average in the checkpoint; resume with the "
                            + "run's own --ema (0 for a run without one)");
                }
                average.restore(ck.average());
            }
            step = s.step();
            seconds = s.seconds();
            badStreak = s.badStreak();
            skipped = s.skippedSteps();
            history.clear();
            history.addAll(s.history());
            // the evaluated model's last score: the average's where there is one
            lastTestBpd = history.stream().map(p -> p.emaTestBpd() != null ? p.emaTestBpd() : p.testBpd())
                    .filter(java.util.Objects::nonNull).reduce((a, b) -> b).orElse(null);
        }
        glow.markInitialized();
        glow.parameters().markUpdated();
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
            StepResult r = trainStep(data.batch(step), options.learningRateAt(step, 1));
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
        long totalSteps = options.maxSteps() > 0 ? options.maxSteps() : -1;
        double sumBpd = 0;
        int counted = 0;
        long windowStart = System.nanoTime();
        int windowSteps = 0;
        double rate = 0;
        while (!budgetSpent()) {
            long started = System.nanoTime();
            double progress = progress();
            double lr = options.learningRateAt(step, progress);
            TrainingData.Batch batch = data.batch(step);
            StepResult r = trainStep(batch, lr);
            step++;
            if (r.skipped()) {
                skipped++;
                badStreak++;
                log.write(Map.of("event", "skip", "step", step, "reason", r.reason()));
                listener.onMessage("step " + step + " skipped: " + r.reason());
                if (badStreak >= options.maxBadSteps()) {
                    seconds += (System.nanoTime() - started) / 1e9;
                    throw new DivergedException(badStreak + " non-finite steps in a row (last: " + r.reason()
                            + "); stopped without writing the bad weights");
                }
            } else {
                badStreak = 0;
                sumBpd += r.bpd();
                counted++;
            }
            seconds += (System.nanoTime() - started) / 1e9;
            windowSteps++;
            double windowSeconds = (System.nanoTime() - windowStart) / 1e9;
            if (windowSeconds > 5 || rate == 0) {
                rate = windowSteps * options.batchSize() / windowSeconds;
                windowStart = System.nanoTime();
                windowSteps = 0;
            }
            double trainBpd = counted == 0 ? Double.NaN : sumBpd / counted;
            if (step % LOG_EVERY == 0 && counted > 0) {
                history.add(new HistoryPoint(step, seconds, trainBpd, null, lr, null));
                log.write(Map.of("event", "train", "step", step, "seconds", round(seconds), "train_bpd", round(trainBpd),
                        "learning_rate", lr, "grad_norm", round(r.gradNorm()), "images_per_second", round(rate)));
                sumBpd = 0;
                counted = 0;
            }
            if (options.evalEvery() > 0 && step % options.evalEvery() == 0) {
                evaluate();
            }
            if (options.checkpointEvery() > 0 && step % options.checkpointEvery() == 0) {
                checkpoint();
            }
            listener.onStep(new Progress(step, totalSteps, seconds, rate, trainBpd, lastTestBpd, lr, eta(rate)));
        }
        if (options.evalEvery() > 0 && (history.isEmpty() || history.get(history.size() - 1).testBpd() == null)) {
            evaluate();
        }
        checkpoint();
    }

    private static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1e5) / 1e5 : v;
    }

    private boolean budgetSpent() {
        return (options.maxSteps() > 0 && step >= options.maxSteps())
                || (options.maxSeconds() > 0 && seconds >= options.maxSeconds());
    }

    private double progress() {
        double p = 0;
        if (options.maxSteps() > 0) {
            p = Math.max(p, step / (double) options.maxSteps());
        }
        if (options.maxSeconds() > 0) {
            p = Math.max(p, seconds / options.maxSeconds());
        }
        return p;
    }

    private double eta(double imagesPerSecond) {
        double bySteps = options.maxSteps() > 0 && imagesPerSecond > 0
                ? (options.maxSteps() - step) * options.batchSize() / imagesPerSecond : Double.POSITIVE_INFINITY;
        double byTime = options.maxSeconds() > 0 ? options.maxSeconds() - seconds : Double.POSITIVE_INFINITY;
        return Math.max(0, Math.min(bySteps, byTime));
    }

    private record StepResult(boolean skipped, String reason, double bpd, double gradNorm) {}

    private NDArray input(NDManager m, float[] x) {
        GlowConfig c = glow.config();
        return m.create(x, new Shape(x.length / c.dimensions(), c.inChannels(), c.height(), c.width()));
    }

    /** Labels reach the model only when it is class-conditional. */
    private int[] labels(TrainingData.Batch batch) {
        return glow.config().conditional() ? batch.labels() : null;
    }

    private void initializeActNorm() {
        TrainingData.Batch first = data.batch(0);
        try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            glow.encode(input(m, first.x()), labels(first), Pass.DATA_INIT);
        }
        listener.onMessage("ActNorm initialised from the first batch");
    }

    private StepResult trainStep(TrainingData.Batch batch, double lr) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            double loss = 0;
            for (double part : forwardBackward(batch)) {
                loss += part;
            }
            if (!Double.isFinite(loss)) {
                workers.zeroGradients(trainable);
                return new StepResult(true, "loss is " + loss, loss, Double.NaN);
            }
            List<NDArray> grads = workers.gradients(names, trainable);
            NDArray sumSquares = null;
            for (NDArray g : grads) {
                NDArray s = g.square().sum();
                sumSquares = sumSquares == null ? s : sumSquares.add(s);
            }
            double norm = Math.sqrt(sumSquares.toType(DataType.FLOAT64, false).toDoubleArray()[0]);
            if (!Double.isFinite(norm)) {
                workers.zeroGradients(trainable);
                return new StepResult(true, "gradient norm is " + norm, loss, norm);
            }
            double scale = options.gradClip() > 0 && norm > options.gradClip() ? options.gradClip() / norm : 1;
            adam.update(names, trainable, grads, lr, scale);
            workers.zeroGradients(trainable);
            glow.parameters().markUpdated();
            if (average != null) {
                average.update();
            }
            return new StepResult(false, null, loss, norm);
        }
    }

    /** The loss and the gradient of every trainable parameter on one batch, without an update (for tests). */
    double gradients(TrainingData.Batch batch, Map<String, double[]> out) {
        if (!glow.initialized()) {
            initializeActNorm();
        }
        glow.parameters().requireGradients();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            double loss = Arrays.stream(forwardBackward(batch)).sum();
            List<NDArray> grads = workers.gradients(names, trainable);
            for (int i = 0; i < trainable.size(); i++) {
                out.put(names.get(i), Tensors.toDoubles(grads.get(i)));
            }
            workers.zeroGradients(trainable);
            return loss;
        }
    }

    /** Each worker's share of the batch's mean bits/dim, back-propagated; a share that is not finite is not. */
    private double[] forwardBackward(TrainingData.Batch batch) {
        int n = batch.x().length / glow.config().dimensions();
        return workers.forwardBackward(n, (model, from, to) -> slice(model, batch, from, to, n));
    }

    /** Images [from, to) of the batch: forward, Σ bits/dim / batch size, backward. Grad mode is per thread. */
    private double slice(Glow model, TrainingData.Batch batch, int from, int to, int batchSize) {
        int d = model.config().dimensions();
        boolean whole = from == 0 && to == batchSize;
        float[] x = whole ? batch.x() : Arrays.copyOfRange(batch.x(), from * d, to * d);
        int[] labels = labels(batch);
        if (labels != null && !whole) {
            labels = Arrays.copyOfRange(labels, from, to);
        }
        try (NDScope scope = new NDScope(); NDManager m = model.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            JniUtils.setGradMode(true);
            NDArray logPx = model.encode(input(m, x), labels, Pass.TRAINING).logPx();
            NDArray perImage = Tensors.dividedBy(logPx.sub(quantization.binLogVolume(d)).neg(),
                    Quantization.natsPerBitPerDim(d));
            NDArray share = Tensors.dividedBy(perImage.sum(), batchSize);
            double value = share.toFloatArray()[0];
            if (Double.isFinite(value)) {
                JniUtils.backward((PtNDArray) share, (PtNDArray) share.onesLike(), false, false);
            }
            return value;
        } finally {
            JniUtils.setGradMode(false);
        }
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
