package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Multi-scale Glow (Kingma &amp; Dhariwal 2018) with the layout of rosinality/glow-pytorch, so its
 * weights load one to one. Level l: squeeze → K steps of flow → split with a learned conv prior
 * (the last level has a learned top prior instead, optionally shifted per class).
 *
 * <p>All methods take and return tensors; intermediates are freed as each layer finishes. Callers
 * run them inside an {@link ai.djl.ndarray.NDScope} (or a manager they close) so results are freed.
 */
public final class Glow implements AutoCloseable {

    static final double HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
    private static final Logger LOG = LoggerFactory.getLogger(Glow.class);

    private final GlowConfig config;
    private final FlowParameters params;
    private final List<List<FlowStep>> levels = new ArrayList<>();
    private final List<ZeroConv> priors = new ArrayList<>();
    private final NDArray classShift;
    private final VersionedCache<NDList> topPriorTable;
    private volatile boolean scriptAllowed;
    private volatile ScriptedInference scripted;
    private volatile String scriptSource;
    /** Why the scripted pass could not be built on this libtorch (inference then runs eager); null if it could. */
    private volatile String scriptFailure;

    private Glow(GlowConfig config, NDManager manager, DataType dataType, long seed) {
        this.config = config;
        this.params = new FlowParameters(manager, dataType);
        Random random = new Random(seed);
        int last = config.levels() - 1;
        for (int l = 0; l <= last; l++) {
            int c = config.flowChannels(l);
            List<FlowStep> steps = new ArrayList<>();
            for (int k = 0; k < config.flowsPerLevel(); k++) {
                steps.add(new FlowStep(params, "blocks." + l + ".flows." + k + ".", c, config, random));
            }
            levels.add(steps);
            priors.add(l < last
                    ? new ZeroConv(params, "blocks." + l + ".prior.", c / 2, c)
                    : new ZeroConv(params, "blocks." + l + ".prior.", c, 2 * c));
        }
        if (config.conditional()) {
            int c = config.flowChannels(last);
            classShift = params.zeros("blocks." + last + ".prior.class_shift",
                    new Shape(config.numClasses(), 2L * c, config.levelHeight(last), config.levelWidth(last)), true);
        } else {
            classShift = null;
        }
        this.topPriorTable = new VersionedCache<>(params);
        this.scriptAllowed = ScriptedInference.enabled(manager);
    }

    /** A freshly initialised model (random rotations, N(0, 0.05²) coupling weights, zero priors). */
    public static Glow create(GlowConfig config, NDManager manager, DataType dataType, long seed) {
        return new Glow(config, manager, dataType, seed);
    }

    public GlowConfig config() {
        return config;
    }

    public FlowParameters parameters() {
        return params;
    }

    public NDManager manager() {
        return params.manager();
    }

    /** True once every ActNorm has its data-dependent init (or the model was loaded). */
    public boolean initialized() {
        return levels.stream().flatMap(List::stream).allMatch(s -> s.actNorm().initialized());
    }

    /** Declares the current values trained: ActNorm's data-dependent init will never run again. */
    public void markInitialized() {
        levels.stream().flatMap(List::stream).forEach(s -> s.actNorm().markInitialized());
    }

    List<FlowStep> steps(int level) {
        return levels.get(level);
    }

    /** x (B, C, H, W) → latents. {@code labels} (B) are required for class-conditional models. */
    public Encoding encode(NDArray x, int[] labels, Pass pass) {
        checkLabels(labels, x.getShape().get(0));
        return encodeWith(x, pass, zTop -> labels);
    }

    /**
     * A class-conditional model's encoding when the class is unknown: the top level is scored
     * under every class, the most probable class is used for the latents, and the log-density is
     * the mixture over classes with a uniform class prior, log Σ_k p(x|k)/K.
     */
    public Marginal encodeMarginal(NDArray x) {
        if (!config.conditional()) {
            throw new IllegalStateException("model is not class-conditional");
        }
        int k = config.numClasses();
        double[][] holder = new double[1][];
        int[][] chosen = new int[1][];
        Encoding enc = encodeWith(x, Pass.INFERENCE, zTop -> {
            double[] byClass = Tensors.toDoubles(topLogPByClass(zTop));
            int batch = byClass.length / k;
            int[] best = new int[batch];
            for (int i = 0; i < batch; i++) {
                for (int c = 1; c < k; c++) {
                    if (byClass[i * k + c] > byClass[i * k + best[i]]) {
                        best[i] = c;
                    }
                }
            }
            holder[0] = byClass;
            chosen[0] = best;
            return best;
        });
        double[] byClass = holder[0];
        int[] best = chosen[0];
        int batch = best.length;
        double[] logPx = Tensors.toDoubles(enc.logPx());
        double[] marginal = new double[batch];
        double[][] posterior = new double[batch][k];
        for (int i = 0; i < batch; i++) {
            double top = byClass[i * k + best[i]];
            double sum = 0;
            for (int c = 0; c < k; c++) {
                sum += Math.exp(byClass[i * k + c] - top);
            }
            double lse = top + Math.log(sum);
            for (int c = 0; c < k; c++) {
                posterior[i][c] = Math.exp(byClass[i * k + c] - lse);
            }
            // p(x) = p(x | best) · Σ_k p_top(z|k) / p_top(z|best) / K
            marginal[i] = logPx[i] + (lse - top) - Math.log(k);
        }
        return new Marginal(enc, best, marginal, posterior);
    }

    /** Encoding under the most probable class, per image log p(x) marginal over classes and p(class | x). */
    public record Marginal(Encoding encoding, int[] labels, double[] logPx, double[][] classPosterior) {}

    /**
     * Runs inference through the eager layers instead of {@link ScriptedInference} (the reference
     * the scripted pass is tested against; also what {@code -Dglowserve.inference.script=false} gives).
     */
    void useEagerInference() {
        scriptAllowed = false;
    }

    /**
     * The scripted pass of this (initialized) model's inference (tests: whether there is one, its
     * large-batch threshold, whether it runs prepacked convs); null when inference runs eager.
     */
    ScriptedInference scriptedPass() {
        return scripted(Pass.INFERENCE);
    }

    /**
     * Builds the scripted pass from this TorchScript source instead of the shipped one (tests: sources
     * this libtorch cannot compile or bind, as one without oneDNN's ops would see the shipped one).
     */
    void useScriptSource(String source) {
        scriptSource = source;
    }

    /**
     * Which pass serves inference: {@code torchscript+onednn} (prepacked oneDNN kernels),
     * {@code torchscript}, or {@code eager} (disabled, not yet initialized, or, with the reason, a script
     * this libtorch could not build). Builds the scripted pass if it is due.
     */
    public String inferencePass() {
        ScriptedInference s = scripted(Pass.INFERENCE);
        if (s != null) {
            return s.prepacked() ? "torchscript+onednn" : "torchscript";
        }
        String failure = scriptFailure;
        return failure == null ? "eager" : "eager (TorchScript pass unavailable: " + failure + ")";
    }

    /**
     * The TorchScript pass for an initialized model's inference, created (compiled and bound to the
     * weights) on first use; null when disabled. A libtorch that cannot compile or bind it, e.g. one
     * built without oneDNN, leaves inference on the eager layers: slower, the same results to rounding.
     */
    private ScriptedInference scripted(Pass pass) {
        if (pass.training() || !scriptAllowed || !initialized()) {
            return null;
        }
        ScriptedInference s = scripted;
        if (s == null) {
            synchronized (this) {
                if (scripted == null && scriptAllowed) {
                    scripted = buildScript();
                }
                s = scripted;
            }
        }
        return s;
    }

    private ScriptedInference buildScript() {
        ScriptedInference s = null;
        try {
            s = new ScriptedInference(config, params, levels, priors, scriptSource);
            s.prepacked(); // binds the weights: prepacking fails here, not in a request
            return s;
        } catch (RuntimeException e) {
            if (s != null) {
                s.close();
            }
            scriptFailure = libtorchReason(e);
            scriptAllowed = false;
            LOG.warn("TorchScript inference pass unavailable on this libtorch, inference runs on the eager layers "
                    + "(slower, same results to rounding): {}", scriptFailure);
            LOG.debug("TorchScript pass failure", e);
            return null;
        }
    }

    /**
     * One line from libtorch's multi-line message: the compiler's first line (e.g. "Unknown builtin op:
     * ...") or, for an error raised while running, its last line (the error, after the script's traceback).
     */
    private static String libtorchReason(RuntimeException e) {
        List<String> lines = String.valueOf(e.getMessage()).lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        if (lines.isEmpty()) {
            return e.getClass().getSimpleName();
        }
        boolean raised = lines.get(0).startsWith("The following operation failed in the TorchScript interpreter");
        return raised ? lines.get(lines.size() - 1) : lines.get(0);
    }

    private Encoding encodeWith(NDArray x, Pass pass, java.util.function.Function<NDArray, int[]> labelsFor) {
        ScriptedInference script = scripted(pass);
        NDList out = Scopes.run(() -> {
            if (script != null) {
                return scriptedEncode(script, x, labelsFor);
            }
            LogDet logDet = new LogDet(x);
            NDArray h = x;
            NDArray priorLogP = null;
            NDList eps = new NDList();
            NDList zs = new NDList();
            int last = config.levels() - 1;
            for (int l = 0; l <= last; l++) {
                h = Squeeze.squeeze(h);
                for (FlowStep step : levels.get(l)) {
                    h = step.forward(h, pass, logDet);
                }
                NDArray z;
                NDList meanLogSd;
                if (l < last) {
                    NDList split = h.split(2, 1);
                    h = split.get(0);
                    z = split.get(1);
                    meanLogSd = priors.get(l).apply(h, pass).split(2, 1);
                } else {
                    z = h;
                    meanLogSd = topPrior(labelsFor.apply(z), x.getManager(), pass);
                }
                NDArray e = standardise(z, meanLogSd);
                NDArray lp = gaussianLogP(e, meanLogSd.get(1));
                priorLogP = priorLogP == null ? lp : priorLogP.add(lp);
                eps.add(e);
                zs.add(z);
            }
            NDList result = new NDList(logDet.total(), priorLogP);
            result.addAll(eps);
            result.addAll(zs);
            return result;
        });
        int n = config.levels();
        return new Encoding(out.subNDList(2, 2 + n), out.subNDList(2 + n), out.get(0), out.get(1));
    }

    /** The flows in one TorchScript call, the top level here: the same values as the eager loop. */
    private NDList scriptedEncode(ScriptedInference script, NDArray x, java.util.function.Function<NDArray, int[]> labelsFor) {
        ScriptedInference.Flows f = script.encode(x);
        NDArray z = f.top();
        NDList meanLogSd = topPrior(labelsFor.apply(z), x.getManager(), Pass.INFERENCE);
        NDArray e = standardise(z, meanLogSd);
        NDArray lp = gaussianLogP(e, meanLogSd.get(1));
        NDList result = new NDList(f.logDet(), f.lowerLogP() == null ? lp : f.lowerLogP().add(lp));
        result.addAll(f.eps());
        result.add(e);
        result.addAll(f.z());
        result.add(z);
        return result;
    }

    /** eps = (z - mean) / exp(logSd). */
    private static NDArray standardise(NDArray z, NDList meanLogSd) {
        return z.sub(meanLogSd.get(0)).mul(meanLogSd.get(1).neg().exp());
    }

    /** z = eps · exp(logSd) + mean, the inverse of {@link #standardise}. */
    private static NDArray unstandardise(NDArray eps, NDList meanLogSd) {
        return eps.mul(meanLogSd.get(1).exp()).add(meanLogSd.get(0));
    }

    /** Σ over C, H, W of log N(z; mean, exp(logSd)) written through eps = (z - mean)/exp(logSd). */
    private static NDArray gaussianLogP(NDArray eps, NDArray logSd) {
        Shape s = eps.getShape();
        long n = s.get(1) * s.get(2) * s.get(3);
        NDArray perElement = Tensors.times(eps.square(), 0.5).add(logSd);
        return Tensors.plus(perElement.sum(new int[] {1, 2, 3}).neg(), -n * HALF_LOG_2PI);
    }

    /** eps per level (B, C_l, H_l, W_l) → x; the exact inverse of {@link #encode}. */
    public NDArray decode(List<NDArray> eps, int[] labels) {
        return reverse(eps, labels, true);
    }

    /** Raw z per level (as {@link Encoding#z()}) → x: the flows reversed with no standardisation. */
    public NDArray decodeZ(List<NDArray> z) {
        return reverse(z, null, false);
    }

    private NDArray reverse(List<NDArray> latents, int[] labels, boolean standardised) {
        if (latents.size() != config.levels()) {
            throw new IllegalArgumentException("expected " + config.levels() + " latent levels, got " + latents.size());
        }
        long batch = latents.get(0).getShape().get(0);
        if (standardised) {
            checkLabels(labels, batch);
        }
        NDManager manager = latents.get(0).getManager();
        ScriptedInference script = scripted(Pass.INFERENCE);
        if (script != null) {
            return Scopes.one(() -> {
                int last = config.levels() - 1;
                NDArray top = latents.get(last);
                if (standardised) {
                    NDList meanLogSd = topPrior(labels, manager, Pass.INFERENCE);
                    top = unstandardise(top, meanLogSd);
                }
                return script.decode(top, latents.subList(0, last), standardised);
            });
        }
        return Scopes.one(() -> {
            int last = config.levels() - 1;
            NDArray h = null;
            for (int l = last; l >= 0; l--) {
                NDArray z = latents.get(l);
                if (standardised) {
                    NDList meanLogSd = l == last ? topPrior(labels, manager, Pass.INFERENCE)
                            : priors.get(l).apply(h, Pass.INFERENCE).split(2, 1);
                    z = unstandardise(z, meanLogSd);
                }
                h = l == last ? z : NDArrays.concat(new NDList(h, z), 1);
                List<FlowStep> steps = levels.get(l);
                for (int k = steps.size() - 1; k >= 0; k--) {
                    h = steps.get(k).reverse(h);
                }
                h = Squeeze.unsqueeze(h);
            }
            return h;
        });
    }

    /**
     * log N(z_top; prior of class k) for every class k, shape (B, K): with the other levels'
     * terms, Bayes' rule gives p(class | x) and the marginal likelihood. Conditional models only.
     */
    public NDArray topLogPByClass(NDArray zTop) {
        if (!config.conditional()) {
            throw new IllegalStateException("model is not class-conditional");
        }
        return Scopes.one(() -> {
            NDList table = topPriorTable.get(() -> buildTopTable(Pass.INFERENCE));
            Shape s = zTop.getShape();
            long k = config.numClasses();
            NDArray z = zTop.expandDims(1);
            NDArray mean = table.get(0).expandDims(0);
            NDArray logSd = table.get(1).expandDims(0);
            NDArray e = z.sub(mean).mul(logSd.neg().exp());
            long n = s.get(1) * s.get(2) * s.get(3);
            return e.square().mul(0.5).add(logSd).sum(new int[] {2, 3, 4}).neg().sub(n * HALF_LOG_2PI)
                    .reshape(s.get(0), k);
        });
    }

    /** Per class, the mean of the top level's prior, flattened C·H·W (conditional models). */
    public float[][] topPriorMeans() {
        if (!config.conditional()) {
            throw new IllegalStateException("model is not class-conditional");
        }
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            NDList table = topPriorTable.get(() -> buildTopTable(Pass.INFERENCE));
            float[] means = table.get(0).toType(DataType.FLOAT32, false).toFloatArray();
            int k = config.numClasses();
            int per = means.length / k;
            float[][] out = new float[k][];
            for (int c = 0; c < k; c++) {
                out[c] = java.util.Arrays.copyOfRange(means, c * per, (c + 1) * per);
            }
            return out;
        }
    }

    /** Mean and log-sd of the top level, broadcastable to (B, C, H, W). */
    private NDList topPrior(int[] labels, NDManager manager, Pass pass) {
        NDList table = pass.training() ? buildTopTable(pass) : topPriorTable.get(() -> buildTopTable(pass));
        if (!config.conditional()) {
            return table;
        }
        int k = config.numClasses();
        float[] oneHot = new float[labels.length * k];
        for (int i = 0; i < labels.length; i++) {
            oneHot[i * k + labels[i]] = 1;
        }
        // a copy in PyTorch memory: autograd keeps it for the backward (see Tensors.times)
        NDArray select = manager.create(oneHot, new Shape(labels.length, k)).toType(params.dataType(), false).duplicate();
        NDList out = new NDList();
        for (NDArray t : table) {
            Shape s = t.getShape();
            out.add(select.matMul(t.reshape(k, -1)).reshape(labels.length, s.get(1), s.get(2), s.get(3)));
        }
        return out;
    }

    /** (mean, logSd) of the top prior: (1, C, H, W) each, or (K, C, H, W) for conditional models. */
    private NDList buildTopTable(Pass pass) {
        int last = config.levels() - 1;
        int c = config.flowChannels(last);
        NDArray zeros = params.manager().zeros(new Shape(1, c, config.levelHeight(last), config.levelWidth(last)), params.dataType());
        NDArray h = priors.get(last).apply(zeros, pass);
        if (classShift != null) {
            h = h.add(classShift);
        }
        NDList table = h.split(2, 1);
        if (!pass.training()) {
            // Cached across calls: detach from whatever scope is open and from the split's views.
            NDList kept = new NDList();
            for (NDArray t : table) {
                kept.add(FlowParameters.persistent(t.duplicate()));
            }
            return kept;
        }
        return table;
    }

    private void checkLabels(int[] labels, long batch) {
        if (!config.conditional()) {
            if (labels != null) {
                throw new IllegalArgumentException("model is unconditional: no class labels allowed");
            }
            return;
        }
        if (labels == null || labels.length != batch) {
            throw new IllegalArgumentException("class-conditional model needs one class label per image");
        }
        for (int y : labels) {
            if (y < 0 || y >= config.numClasses()) {
                throw new IllegalArgumentException("class " + y + " is outside 0.." + (config.numClasses() - 1));
            }
        }
    }

    @Override
    public void close() {
        ScriptedInference s = scripted;
        if (s != null) {
            s.close();
        }
        params.close();
    }
}
