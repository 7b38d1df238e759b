package dev.glowserve.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.ArtifactException;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Pass;
import dev.glowserve.inference.ModelRunner;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

    private static final double LN2 = Math.log(2);
    private static final int LOG_EVERY = 10;

    private final TrainOptions options;
    private final TrainingData data;
    private final ImageSet test;
    private final Path outDir;
    private final Listener listener;
    private final Glow glow;
    private final Adam adam = new Adam(0.9, 0.999, 1e-8);
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
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.log = new TrainingLog(outDir.resolve("train.jsonl"));
    }

    public Glow glow() {
        return glow;
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
            step = s.step();
            seconds = s.seconds();
            badStreak = s.badStreak();
            skipped = s.skippedSteps();
            history.clear();
            history.addAll(s.history());
            lastTestBpd = history.stream().map(HistoryPoint::testBpd).filter(java.util.Objects::nonNull)
                    .reduce((a, b) -> b).orElse(null);
        }
        glow.markInitialized();
        glow.parameters().markUpdated();
        listener.onMessage("resumed at step " + step + " (" + Math.round(seconds) + " s trained)");
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
                history.add(new HistoryPoint(step, seconds, trainBpd, null, lr));
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
        int d = glow.config().dimensions();
        try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            double loss;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray logPx = glow.encode(input(m, batch.x()), labels(batch), Pass.TRAINING).logPx();
                NDArray bpd = logPx.sub(d * Math.log(quantization.bins())).neg().div(d * LN2).mean();
                loss = bpd.toFloatArray()[0];
                if (!Double.isFinite(loss)) {
                    zeroGradients();
                    return new StepResult(true, "loss is " + loss, loss, Double.NaN);
                }
                collector.backward(bpd);
            }
            List<NDArray> grads = new ArrayList<>(trainable.size());
            NDArray sumSquares = null;
            for (NDArray p : trainable) {
                NDArray g = p.getGradient();
                grads.add(g);
                NDArray s = g.square().sum();
                sumSquares = sumSquares == null ? s : sumSquares.add(s);
            }
            double norm = Math.sqrt(sumSquares.toType(DataType.FLOAT64, false).toDoubleArray()[0]);
            if (!Double.isFinite(norm)) {
                zeroGradients();
                return new StepResult(true, "gradient norm is " + norm, loss, norm);
            }
            double scale = options.gradClip() > 0 && norm > options.gradClip() ? options.gradClip() / norm : 1;
            adam.update(names, trainable, grads, lr, scale);
            zeroGradients();
            glow.parameters().markUpdated();
            return new StepResult(false, null, loss, norm);
        }
    }

    private void zeroGradients() {
        for (NDArray p : trainable) {
            JniUtils.zeroGrad((PtNDArray) p);
        }
    }

    /** Mean test bits/dim (mid-bin, marginal over classes) on the first {@code eval_images} test images. */
    public double evaluate() {
        double bpd = testBitsPerDim(test.head(options.evalImages() > 0 ? options.evalImages() : test.count()));
        lastTestBpd = bpd;
        history.add(new HistoryPoint(step, seconds, null, bpd, null));
        log.write(Map.of("event", "eval", "step", step, "seconds", round(seconds), "test_bpd", round(bpd)));
        return bpd;
    }

    /** Per-image test bits/dim on the given images. */
    public double[] perImageBitsPerDim(ImageSet images) {
        ModelRunner runner = new ModelRunner("training", manifest(), glow, 100);
        List<byte[]> list = new ArrayList<>(images.count());
        for (int i = 0; i < images.count(); i++) {
            list.add(images.image(i));
        }
        return runner.score(list, null).stream().mapToDouble(ModelRunner.Score::bitsPerDim).toArray();
    }

    private double testBitsPerDim(ImageSet images) {
        double[] v = perImageBitsPerDim(images);
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
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
                    options, Architecture.of(glow.config()), List.copyOf(history)), glow.parameters(), adam);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + checkpointFile(), e);
        }
    }

    @Override
    public void close() {
        log.close();
        adam.close();
        glow.close();
    }
}
