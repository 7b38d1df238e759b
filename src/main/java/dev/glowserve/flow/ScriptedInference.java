package dev.glowserve.flow;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.List;

/**
 * The inference passes of an initialized Glow as one TorchScript call each
 * ({@code GlowInference.torchscript}, compiled by {@link ScriptModule}): the eager layers' ATen ops on
 * their own cached tensors, run by libtorch's interpreter instead of one JNI call and a few Java
 * objects per op, with the ReLUs in place and every intermediate freed at its last use. Equal to the
 * eager pass to rounding; where it differs:
 * <ul>
 *   <li>ZeroConv on larger maps with few outputs is a taps GEMM + {@code col2im}, or on large batches
 *       the same additions in the same order as 9 in-place adds ({@code col2im} is single-threaded);</li>
 *   <li>on CPU in float32 the coupling's convolutions run prepacked in oneDNN's weight layout with the
 *       ReLU fused, the 3x3 conv from a few channels to 256 or more on large batches as a 1x1 conv over
 *       its windows (both the same bits as conv + ReLU); on small maps from 256 channels on, the 1x1 conv and
 *       ZeroConv's taps run as oneDNN GEMMs on prepacked weights (other rounding than MKL's); all off
 *       with {@code -Dglowserve.inference.prepack=false};</li>
 *   <li>the invertible 1x1 conv is a batched GEMM with its bias ({@code baddbmm}).</li>
 * </ul>
 * Every route gives an image the same bits alone and in any batch. The top level (labels, class prior)
 * stays in Java. Figures in docs/PERFORMANCE.md. Off with {@code -Dglowserve.inference.script=false}.
 */
final class ScriptedInference {

    static final String PROPERTY = "glowserve.inference.script";
    static final String PREPACK_PROPERTY = "glowserve.inference.prepack";
    private static final String CLASS_NAME = "GlowInference";
    private static final String RESOURCE = CLASS_NAME + ".torchscript";
    private static final int TENSORS_PER_STEP = 11;

    /** Everything but the images, built once per parameter version. */
    private record Bound(IValue weights, IValue priors, IValue steps, IValue modes, IValue priorModes,
                         IValue affine, IValue logNorm, IValue minScale, IValue bound, IValue packed,
                         boolean prepacked, double constantLogDet)
            implements AutoCloseable {
        @Override
        public void close() {
            for (IValue v : List.of(weights, priors, steps, modes, priorModes, affine, logNorm, minScale, bound, packed)) {
                v.close();
            }
        }
    }

    /** The flows of an encode: log-det, Σ log p of the split levels (null for one level), their eps and z, and the top z. */
    record Flows(NDArray logDet, NDArray lowerLogP, NDList eps, NDList z, NDArray top) {}

    private final GlowConfig config;
    private final List<List<FlowStep>> levels;
    private final List<ZeroConv> priors;
    private final PtSymbolBlock module;
    private final VersionedCache<Bound> bound;

    /** Compiles {@code source} (class GlowInference), or when null the shipped {@code GlowInference.torchscript}. */
    ScriptedInference(GlowConfig config, FlowParameters params, List<List<FlowStep>> levels, List<ZeroConv> priors,
            String source) {
        this.config = config;
        this.levels = levels;
        this.priors = priors;
        this.module = ScriptModule.compile(params.manager(), CLASS_NAME, source != null ? source : shippedSource());
        this.bound = new VersionedCache<>(params);
    }

    /** The shipped script's source. */
    static String shippedSource() {
        return ScriptModule.source(RESOURCE);
    }

    static boolean enabled(NDManager manager) {
        return !"false".equals(System.getProperty(PROPERTY)) && "PyTorch".equals(manager.getEngine().getEngineName());
    }

    Flows encode(NDArray x) {
        Bound b = bound.get(this::bind);
        PtNDManager manager = (PtNDManager) x.getManager();
        int last = config.levels() - 1;
        NDList out;
        // thread-local in libtorch: the profiling executor would re-specialise the graph for every batch size
        JniUtils.setGraphExecutorOptimize(false);
        try (NDArray zeros = manager.zeros(new Shape(x.getShape().get(0)), x.getDataType());
             IValue xi = IValue.from((PtNDArray) x);
             IValue ld = IValue.from((PtNDArray) zeros);
             IValue result = IValueUtils.runMethod(module, "encode", xi, ld, b.weights(), b.priors(), b.steps(),
                     b.modes(), b.priorModes(), b.affine(), b.logNorm(), b.packed())) {
            out = result.toNDList(manager);
        }
        NDArray logDet = b.constantLogDet() == 0 ? out.get(0) : Tensors.plus(out.get(0), b.constantLogDet());
        return new Flows(logDet, last == 0 ? null : out.get(1), out.subNDList(2, 2 + last),
                out.subNDList(2 + last, 2 + 2 * last), out.get(2 + 2 * last));
    }

    /** Top z (already through the top prior if {@code standardised}) and the split levels' latents → images. */
    NDArray decode(NDArray top, List<NDArray> lower, boolean standardised) {
        Bound b = bound.get(this::bind);
        JniUtils.setGraphExecutorOptimize(false);
        try (IValue t = IValue.from((PtNDArray) top);
             IValue l = IValue.listFrom(lower.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
             IValue s = IValue.from(standardised);
             IValue result = IValueUtils.runMethod(module, "decode", t, l, s, b.weights(), b.priors(), b.steps(),
                     b.modes(), b.priorModes(), b.affine(), b.minScale(), b.bound(), b.packed())) {
            return result.toTensor((PtNDManager) top.getManager());
        }
    }

    /** The batch size from which the script takes its large-batch routes (same bits as the small-batch ones). */
    int largeBatch() {
        try (IValue r = IValueUtils.runMethod(module, "large_batch")) {
            return (int) r.toLong();
        }
    }

    /** True when the current weights run through oneDNN's prepacked convolutions (CPU, float32). */
    boolean prepacked() {
        return bound.get(this::bind).prepacked();
    }

    /** Frees the bound arguments (the module itself belongs to the parameters' manager). */
    void close() {
        bound.clear();
    }

    private Bound bind() {
        int count = config.levels();
        List<PtNDArray> weights = new ArrayList<>();
        List<PtNDArray> priorWeights = new ArrayList<>();
        long[] modes = new long[count];
        long[] priorModes = new long[count];
        long[] sizes = new long[2 * count];
        double[] logNorm = new double[count];
        double constant = 0;
        for (int l = 0; l < count; l++) {
            long h = config.levelHeight(l);
            long w = config.levelWidth(l);
            sizes[2 * l] = h;
            sizes[2 * l + 1] = w;
            for (FlowStep step : levels.get(l)) {
                List<NDArray> t = step.scriptTensors(h, w);
                if (t.size() != TENSORS_PER_STEP) {
                    throw new IllegalStateException(t.size() + " tensors for a step, the script reads " + TENSORS_PER_STEP);
                }
                t.forEach(a -> weights.add((PtNDArray) a));
                // the same sum, in the same order, as the eager pass's LogDet
                constant += h * w * step.constantLogDet();
            }
            modes[l] = levels.get(l).get(0).coupling().out().inferenceMode(h, w);
            if (l < count - 1) {
                ZeroConv prior = priors.get(l);
                prior.scriptTensors(h, w).forEach(a -> priorWeights.add((PtNDArray) a));
                priorModes[l] = prior.inferenceMode(h, w);
                long n = (long) config.flowChannels(l) / 2 * h * w;
                logNorm[l] = -n * Glow.HALF_LOG_2PI;
            }
        }
        IValue weightList = IValue.listFrom(weights.toArray(PtNDArray[]::new));
        IValue steps = IValue.from((long) config.flowsPerLevel());
        PtNDArray first = weights.get(0);
        // oneDNN's prepacked convolutions: CPU and float32 only
        boolean prepack = !"false".equals(System.getProperty(PREPACK_PROPERTY))
                && Device.Type.CPU.equals(first.getDevice().getDeviceType()) && first.getDataType() == DataType.FLOAT32;
        IValue modeList = IValue.listFrom(modes);
        IValue packed;
        try (IValue s = IValue.listFrom(sizes); IValue e = IValue.from(prepack)) {
            packed = IValueUtils.runMethod(module, "prepack", weightList, steps, modeList, s, e);
        }
        return new Bound(weightList,
                IValue.listFrom(priorWeights.toArray(PtNDArray[]::new)),
                steps, modeList,
                IValue.listFrom(priorModes), IValue.from(config.affine()), IValue.listFrom(logNorm),
                IValue.from((double) Coupling.MIN_SCALE), IValue.from((double) Coupling.REVERSE_BOUND), packed,
                prepack, constant);
    }
}
