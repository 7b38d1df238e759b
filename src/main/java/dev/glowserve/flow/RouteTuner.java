package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Picks a model's inference routes by timing them on the host, the way cuDNN's benchmark mode and TensorRT's tactic
 * selection do: which of oneDNN's kernels is fastest depends on the CPU's instruction set, its caches, the batch and
 * the threads (on an AVX2-only Zen 3, weights packed for a batch of 64 were reordered on every batch-1 call, 8× slower
 * than plain convolutions; on AVX-512 hosts packing won). The candidates: the script on plain convolutions, the
 * untuned prepacked table, it packed for {@link #SMALL_BATCH}, and its single changes level by level (each convolution
 * prepacked or plain, the 3×3 one over windows or not, oneDNN's or MKL's GEMMs); the eager layers last. Each is timed
 * at the batches the process runs: one image on all cores (a lone request, the command line's small batches),
 * {@link #SMALL_BATCH} images on all cores and on one (a lane, a batching worker). A candidate's score is the
 * geometric mean, over those, of its time over the plain script's; the lowest wins. Only routes are chosen, never a
 * batch-dependent one: an image keeps its bits alone and in any batch.
 */
public final class RouteTuner {

    /**
     * Images per timed multi-image pass: the command line's lanes' chunk, and the batches the server's workers form
     * under load. Weights packed for one batch can be reordered on every call of another (oneDNN picks its kernel by
     * batch), so the batches timed are those that run.
     */
    static final int SMALL_BATCH = 16;
    /** Wall time after which no further candidate starts: a bound on what tuning adds to a first load. */
    private static final double BUDGET_MS = 1000;
    /** The eager layers are not timed on every class when this many times slower than the plain script on the first. */
    private static final double HOPELESS = 1.5;

    /** Where a pass is timed: {@code images} per call on {@code threads} intra-op threads. */
    public record BatchClass(int images, int threads) {
        @Override
        public String toString() {
            return images + (images == 1 ? " image" : " images") + " on " + threads + (threads == 1 ? " thread" : " threads");
        }
    }

    /** One timed candidate: milliseconds per call for each batch class, and its score (lower is faster). */
    public record Trial(String pass, String routes, List<Double> millis, double score) {}

    /**
     * What the tuner chose: {@code script} (else the eager layers), the table, the batch classes timed, the trials in
     * order, and the wall time it took.
     */
    public record Result(boolean script, InferenceRoutes routes, List<BatchClass> classes, List<Trial> trials,
                         long tookMillis) {

        /** The pass's name as {@link InferencePass#name()} gives it. */
        public String pass() {
            return !script ? "eager" : routes.prepacked() ? "torchscript+onednn" : "torchscript";
        }

        public String describe() {
            return script ? pass() + " (" + routes.describe() + ")" : pass();
        }
    }

    private final Glow glow;
    private final List<BatchClass> classes;
    private final List<Trial> trials = new ArrayList<>();
    /** The plain script's milliseconds per class, what every score is against. */
    private double[] reference;

    private RouteTuner(Glow glow, int threads) {
        this.glow = glow;
        List<BatchClass> c = new ArrayList<>(List.of(new BatchClass(1, threads), new BatchClass(SMALL_BATCH, threads)));
        if (threads > 1) {
            c.add(new BatchClass(SMALL_BATCH, 1));
        }
        this.classes = List.copyOf(c);
    }

    /**
     * Times the candidates on {@code glow} (initialized) with {@code threads} as "all cores" and returns the fastest;
     * {@code prepack}: whether prepacked candidates may be tried. Each is timed once per class after a warm-up call;
     * the two fastest are timed again and keep their better turn (this host's vCPUs switch between speeds 1.5× apart).
     * Candidates past {@link #BUDGET_MS} are left out, the deepest levels' changes first.
     */
    public static Result tune(Glow glow, int threads, boolean prepack, String scriptSource) {
        long t0 = System.nanoTime();
        RouteTuner tuner = new RouteTuner(glow, Math.max(1, threads));
        int callerThreads = JniUtils.getNumThreads();
        GlowScript module = ScriptedPass.compile(glow, scriptSource);
        List<InferenceRoutes> candidates = new ArrayList<>(List.of(InferenceRoutes.of(glow.config(), false)));
        if (prepack && ScriptedPass.canPrepack(glow)) {
            InferenceRoutes packed = InferenceRoutes.of(glow.config(), true);
            candidates.add(packed);
            candidates.add(packed.withPackedBatch(SMALL_BATCH));
            candidates.addAll(tuner.singleChanges(packed));
        }
        try {
            long until = System.nanoTime() + (long) (BUDGET_MS * 1e6);
            List<double[]> timed = new ArrayList<>();
            for (InferenceRoutes c : candidates) {
                if (timed.size() >= 2 && System.nanoTime() > until) {
                    break; // the changes left are the deepest levels', on the smallest maps
                }
                timed.add(tuner.timeFresh(c, module));
            }
            // the two fastest timed again, each afresh: one burst of the host's noise must not pick the winner
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < timed.size(); i++) {
                order.add(i);
            }
            order.sort(java.util.Comparator.comparingDouble(i -> tuner.score(timed.get(i))));
            for (int i : order.subList(0, Math.min(2, order.size()))) {
                double[] again = tuner.timeFresh(candidates.get(i), module);
                for (int c = 0; c < again.length; c++) {
                    timed.get(i)[c] = Math.min(timed.get(i)[c], again[c]);
                }
            }
            // scores are against the plain script's best turn, which may be its second one
            tuner.reference = timed.get(0).clone();
            int chosen = 0;
            double chosenScore = Double.MAX_VALUE;
            for (int i = 0; i < timed.size(); i++) {
                InferenceRoutes c = candidates.get(i);
                double score = tuner.record(c.prepacked() ? "torchscript+onednn" : "torchscript", c.describe(), timed.get(i));
                if (score < chosenScore) {
                    chosen = i;
                    chosenScore = score;
                }
            }
            double eagerScore = tuner.timeEager();
            return new Result(chosenScore <= eagerScore, candidates.get(chosen), tuner.classes, List.copyOf(tuner.trials),
                    (System.nanoTime() - t0) / 1_000_000);
        } finally {
            JniUtils.setNumThreads(callerThreads);
        }
    }

    /**
     * One encode per class after a warm-up call, on a pass of the candidate's own that is closed before the next is
     * made: live prepacked passes side by side slowed each other's calls 2-3×.
     */
    private double[] timeFresh(InferenceRoutes routes, GlowScript module) {
        try (ScriptedPass pass = new ScriptedPass(glow, routes, module)) {
            measure(pass, classes.size());
            double[] millis = measure(pass, classes.size());
            if (reference == null) {
                reference = millis.clone();
            }
            return millis;
        }
    }

    /** The geometric mean of {@code millis} over the plain script's. */
    private double score(double[] millis) {
        double logSum = 0;
        for (int c = 0; c < millis.length; c++) {
            logSum += Math.log(millis[c] / reference[c]);
        }
        return Math.exp(logSum / millis.length);
    }

    /**
     * The single changes from the untuned prepacked table, level by level: the 3×3 conv plain (or packed), over
     * windows (or not), and the 1×1 conv plain (or packed) or, on small maps, the other library's GEMMs.
     */
    private List<InferenceRoutes> singleChanges(InferenceRoutes from) {
        List<InferenceRoutes> out = new ArrayList<>();
        GlowConfig config = glow.config();
        for (int l = 0; l < from.levels().size(); l++) {
            InferenceRoutes.Level r = from.levels().get(l);
            out.add(from.withLevel(l, r.with(!r.packedIn(), false, r.packedHidden(), r.oneDnnGemms())));
            // wider windows copy more than the kernel saves
            if (!r.smallMap() && r.packedIn() && 9 * (config.flowChannels(l) / 2) <= 64) {
                out.add(from.withLevel(l, r.with(true, !r.windowed(), r.packedHidden(), r.oneDnnGemms())));
            }
            out.add(r.smallMap() ? from.withLevel(l, r.with(r.packedIn(), r.windowed(), false, !r.oneDnnGemms()))
                    : from.withLevel(l, r.with(r.packedIn(), r.windowed(), !r.packedHidden(), false)));
        }
        return out;
    }

    /** The eager layers; timed on the first class only when they are {@link #HOPELESS} there already. */
    private double timeEager() {
        try (EagerPass pass = new EagerPass(glow, null)) {
            double[] first = measure(pass, 1);
            first[0] = Math.min(first[0], measure(pass, 1)[0]);
            if (first[0] > HOPELESS * reference[0]) {
                double[] partial = new double[classes.size()];
                Arrays.fill(partial, Double.NaN);
                partial[0] = first[0];
                trials.add(new Trial("eager", "stopped after the first class", toList(partial), first[0] / reference[0]));
                return first[0] / reference[0];
            }
            double[] all = measure(pass, classes.size());
            all[0] = Math.min(all[0], first[0]);
            return record("eager", "", all);
        }
    }

    private static List<Double> toList(double[] values) {
        List<Double> m = new ArrayList<>();
        for (double v : values) {
            m.add(v);
        }
        return m;
    }

    /** Records a trial with its score. */
    private double record(String pass, String routes, double[] millis) {
        double score = score(millis);
        trials.add(new Trial(pass, routes, toList(millis), score));
        return score;
    }

    /** One encode per batch class (the first {@code count}), in milliseconds. */
    private double[] measure(InferencePass pass, int count) {
        GlowConfig config = glow.config();
        double[] out = new double[count];
        for (int c = 0; c < count; c++) {
            BatchClass bc = classes.get(c);
            JniUtils.setNumThreads(bc.threads());
            try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
                scope.suppressNotUsedWarning();
                Random random = new Random(bc.images());
                float[] values = new float[bc.images() * config.dimensions()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (random.nextDouble() - 0.5);
                }
                NDArray x = m.create(values, new Shape(bc.images(), config.inChannels(), config.height(), config.width()))
                        .toType(glow.parameters().dataType(), false);
                int[] labels = config.conditional() ? new int[bc.images()] : null;
                long t0 = System.nanoTime();
                pass.encode(x, labels).logPx().toFloatArray();
                out[c] = (System.nanoTime() - t0) / 1e6;
            }
        }
        return out;
    }

    /** The trials as lines for a log: score, milliseconds per class, pass and routes. */
    public static List<String> table(Result result) {
        List<String> lines = new ArrayList<>();
        for (Trial t : result.trials()) {
            StringBuilder b = new StringBuilder();
            for (int c = 0; c < t.millis().size(); c++) {
                double ms = t.millis().get(c);
                b.append(c == 0 ? "" : ", ").append(Double.isNaN(ms) ? "-" : String.format(Locale.ROOT, "%.1f ms", ms));
            }
            lines.add(String.format(Locale.ROOT, "%.3f  %s  %s%s", t.score(), b, t.pass(),
                    t.routes().isEmpty() ? "" : " (" + t.routes() + ")"));
        }
        return lines;
    }
}
