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
 *
 * <p>Over 300 lines because the forward and reverse passes are written side by side, level by level, as the paper and
 * rosinality's model.py lay them out; each layer is its own class.
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

    /** The split prior of a level above the last. */
    ZeroConv prior(int level) {
        return priors.get(level);
    }

    /** (mean, logSd) of the top prior for inference, cached per weight version (see {@link #buildTopTable}). */
    NDList topPriorTable() {
        return topPriorTable.get(() -> buildTopTable(Pass.INFERENCE));
    }

    /**
     * x (B, C, H, W) → latents, through the layers: training passes, and the eager reference for inference
     * ({@link InferencePass} is what serves). {@code labels} (B) are required for class-conditional models.
     */
    public Encoding encode(NDArray x, int[] labels, Pass pass) {
        checkLabels(labels, x.getShape().get(0));
        return encodeWith(x, pass, zTop -> labels);
    }

    /**
     * A class-conditional model's encoding when the class is unknown, through the layers: the top level is scored
     * under every class, the most probable class is used for the latents (see {@link Marginal}).
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
        return Marginal.of(enc, chosen[0], holder[0], k);
    }

    private Encoding encodeWith(NDArray x, Pass pass, java.util.function.Function<NDArray, int[]> labelsFor) {
        NDList out = Scopes.run(() -> {
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
        return gaussianLogP(eps, logSd, 1, 2, 3);
    }

    /** The same sum over the last three axes, whatever comes before them (classes, for the top level). */
    private static NDArray gaussianLogP(NDArray eps, NDArray logSd, int... axes) {
        Shape s = eps.getShape();
        int d = s.dimension();
        long n = s.get(d - 3) * s.get(d - 2) * s.get(d - 1);
        NDArray perElement = Tensors.times(eps.square(), 0.5).add(logSd);
        return Tensors.plus(perElement.sum(axes).neg(), -n * HALF_LOG_2PI);
    }

    /** eps per level (B, C_l, H_l, W_l) → x through the layers; the exact inverse of {@link #encode}. */
    public NDArray decode(List<NDArray> eps, int[] labels) {
        return reverse(eps, labels, true);
    }

    /** Raw z per level (as {@link Encoding#z()}) → x: the flows reversed with no standardisation. */
    public NDArray decodeZ(List<NDArray> z) {
        return reverse(z, null, false);
    }

    private NDArray reverse(List<NDArray> latents, int[] labels, boolean standardised) {
        checkLatents(latents);
        long batch = latents.get(0).getShape().get(0);
        if (standardised) {
            checkLabels(labels, batch);
        }
        NDManager manager = latents.get(0).getManager();
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
            NDList table = topPriorTable();
            Shape s = zTop.getShape();
            long k = config.numClasses();
            NDArray z = zTop.expandDims(1);
            NDArray mean = table.get(0).expandDims(0);
            NDArray logSd = table.get(1).expandDims(0);
            NDArray e = z.sub(mean).mul(logSd.neg().exp());
            return gaussianLogP(e, logSd, 2, 3, 4).reshape(s.get(0), k);
        });
    }

    /** Per class, the mean of the top level's prior, flattened C·H·W (conditional models). */
    public float[][] topPriorMeans() {
        if (!config.conditional()) {
            throw new IllegalStateException("model is not class-conditional");
        }
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            NDList table = topPriorTable();
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
        NDList table = pass.training() ? buildTopTable(pass) : topPriorTable();
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

    /** Latents of every level, as many as the model has. */
    void checkLatents(List<NDArray> latents) {
        if (latents.size() != config.levels()) {
            throw new IllegalArgumentException("expected " + config.levels() + " latent levels, got " + latents.size());
        }
    }

    void checkLabels(int[] labels, long batch) {
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
        params.close();
    }
}
