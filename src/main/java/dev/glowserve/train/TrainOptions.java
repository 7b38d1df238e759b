package dev.glowserve.train;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Permutation;

/**
 * Everything that decides a training run. Stored in each checkpoint so that {@code --resume}
 * continues the same run. Budgets: {@code maxSteps} and/or {@code maxSeconds} (0 = none). {@code emaDecay}: the
 * weight average's decay per step (0 = no average: the live weights are evaluated and shipped).
 */
public record TrainOptions(
        @JsonProperty("flows_per_level") int flowsPerLevel,
        @JsonProperty("levels") int levels,
        @JsonProperty("hidden_channels") int hiddenChannels,
        @JsonProperty("affine") boolean affine,
        @JsonProperty("permutation") String permutation,
        @JsonProperty("n_bits") int nBits,
        @JsonProperty("conditional") boolean conditional,
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("learning_rate") double learningRate,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("schedule") String schedule,
        @JsonProperty("max_steps") long maxSteps,
        @JsonProperty("max_seconds") double maxSeconds,
        @JsonProperty("grad_clip") double gradClip,
        @JsonProperty("seed") long seed,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("eval_images") int evalImages,
        @JsonProperty("checkpoint_every") int checkpointEvery,
        @JsonProperty("max_bad_steps") int maxBadSteps,
        @JsonProperty("train_limit") int trainLimit,
        @JsonProperty("ema_decay") double emaDecay) {

    public TrainOptions {
        Permutation.of(permutation); // conv-lu, conv, reverse or shuffle
        if (maxSteps <= 0 && maxSeconds <= 0) {
            throw new IllegalArgumentException("give a step budget (--steps) or a time budget (--minutes)");
        }
        if (batchSize < 2) {
            throw new IllegalArgumentException("batch size must be at least 2, got " + batchSize);
        }
        if (learningRate <= 0 || !Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("learning rate must be positive, got " + learningRate);
        }
        if (!schedule.equals("constant") && !schedule.equals("cosine")) {
            throw new IllegalArgumentException("schedule must be constant or cosine, got " + schedule);
        }
        if (!(emaDecay >= 0 && emaDecay < 1)) {
            throw new IllegalArgumentException("EMA decay must be in [0, 1) (0 = off), got " + emaDecay);
        }
        if (warmupSteps < AUTO_WARMUP || evalEvery < 0 || checkpointEvery < 0 || maxBadSteps < 1 || trainLimit < 0) {
            throw new IllegalArgumentException("counts must not be negative (max_bad_steps at least 1, warmup -1 for auto)");
        }
    }

    public GlowConfig architecture(int channels, int height, int width, int numClasses) {
        return new GlowConfig(channels, height, width, flowsPerLevel, levels, hiddenChannels, affine, Permutation.of(permutation),
                conditional ? numClasses : 0);
    }

    /** {@code warmup_steps} value that sizes the warmup to the budget: 10% of it, at most 200 steps. */
    public static final int AUTO_WARMUP = -1;

    /** Warmup steps: as given, or for auto 10% of the (estimated) total steps, at most 200. */
    public double warmupAt(long step, double progress) {
        if (warmupSteps != AUTO_WARMUP) {
            return warmupSteps;
        }
        double total = maxSteps > 0 ? maxSteps : progress > 0 ? step / progress : Double.POSITIVE_INFINITY;
        return Math.max(1, Math.min(200, 0.1 * total));
    }

    /** Linear warmup, then constant or a cosine decay to 1% over the budget; {@code progress} ∈ [0, 1]. */
    public double learningRateAt(long step, double progress) {
        double lr = learningRate;
        double warmup = warmupAt(step, progress);
        if (warmup > 0 && step < warmup) {
            lr *= (step + 1) / warmup;
        }
        if (schedule.equals("cosine")) {
            double p = Math.max(0, Math.min(1, progress));
            lr *= 0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * p));
        }
        return lr;
    }

    /** Whether the step or time budget is spent after {@code step} steps and {@code seconds} of training. */
    public boolean budgetSpent(long step, double seconds) {
        return (maxSteps > 0 && step >= maxSteps) || (maxSeconds > 0 && seconds >= maxSeconds);
    }

    /** How far through its budget the run is, the larger of the step and the time share. */
    public double progress(long step, double seconds) {
        double p = 0;
        if (maxSteps > 0) {
            p = Math.max(p, step / (double) maxSteps);
        }
        if (maxSeconds > 0) {
            p = Math.max(p, seconds / maxSeconds);
        }
        return p;
    }

    /** Seconds left at {@code imagesPerSecond}: the sooner of the step and the time budget's end. */
    public double etaSeconds(long step, double seconds, double imagesPerSecond) {
        double bySteps = maxSteps > 0 && imagesPerSecond > 0
                ? (maxSteps - step) * batchSize / imagesPerSecond : Double.POSITIVE_INFINITY;
        double byTime = maxSeconds > 0 ? maxSeconds - seconds : Double.POSITIVE_INFINITY;
        return Math.max(0, Math.min(bySteps, byTime));
    }
}
