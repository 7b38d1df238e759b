package dev.glowserve.flow;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import dev.glowserve.flow.GlowScript.Bound;
import dev.glowserve.flow.GlowScript.Method;
import dev.glowserve.flow.GlowScript.Parameter;
import dev.glowserve.flow.GlowScript.Result;
import dev.glowserve.flow.GlowScript.RouteFlag;
import dev.glowserve.flow.GlowScript.Setting;
import dev.glowserve.flow.GlowScript.Weight;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static dev.glowserve.flow.GlowScript.key;

/**
 * Inference as one TorchScript call per pass ({@code GlowInference.torchscript}, compiled by {@link ScriptModule}):
 * the eager layers' ATen ops on their own cached tensors, run by libtorch's interpreter instead of one JNI call and
 * a few Java objects per op, the top prior included. The weights are bound by name, one dictionary per step and per
 * level, in {@link #bind}; the kernel choices come from {@link InferenceRoutes}. Equal to the eager pass to rounding.
 *
 * <p>Over 300 lines because binding every weight under its script name, route by route, is one long mapping kept
 * beside the calls that read it.
 */
final class ScriptedPass implements InferencePass {

    /** The script's arguments besides the images, by name, built once per parameter version. */
    private record Bindings(Map<Parameter, IValue> values) implements AutoCloseable {
        @Override
        public void close() {
            values.values().forEach(IValue::close);
        }
    }

    private final Glow glow;
    private final InferenceRoutes routes;
    private final GlowScript script;
    private final VersionedCache<Bindings> bound;

    /**
     * The pass on a compiled module (one per model, shared by the tables {@link RouteTuner} tries) and a table; binds
     * the weights here, so a libtorch that cannot run the script fails at load, not in a request.
     */
    ScriptedPass(Glow glow, InferenceRoutes routes, GlowScript script) {
        if (routes.prepacked() && !canPrepack(glow)) {
            throw new IllegalArgumentException("oneDNN's prepacked kernels run on CPU in float32 only");
        }
        this.glow = glow;
        this.routes = routes;
        this.script = script;
        this.bound = new VersionedCache<>(glow.parameters());
        bound.get(this::bind);
    }

    static GlowScript compile(Glow glow, String source) {
        return GlowScript.compile(glow.parameters().manager(), source);
    }

    /** oneDNN's prepacked kernels: on CPU, in float32. */
    static boolean canPrepack(Glow glow) {
        FlowParameters params = glow.parameters();
        return Device.Type.CPU.equals(params.manager().getDevice().getDeviceType()) && params.dataType() == DataType.FLOAT32;
    }

    InferenceRoutes routes() {
        return routes;
    }

    @Override
    public String name() {
        return routes.prepacked() ? "torchscript+onednn" : "torchscript";
    }

    @Override
    public Encoding encode(NDArray x, int[] labels) {
        glow.checkLabels(labels, x.getShape().get(0));
        return run(x, labels).encoding();
    }

    @Override
    public Marginal encodeMarginal(NDArray x) {
        GlowConfig config = glow.config();
        if (!config.conditional()) {
            throw new IllegalStateException("model is not class-conditional");
        }
        Scripted s = run(x, null);
        long[] best = s.classes().toLongArray();
        int[] labels = new int[best.length];
        for (int i = 0; i < best.length; i++) {
            labels[i] = (int) best[i];
        }
        return Marginal.of(s.encoding(), labels, Tensors.toDoubles(s.byClass()), config.numClasses());
    }

    @Override
    public NDArray decode(List<NDArray> eps, int[] labels) {
        glow.checkLatents(eps);
        glow.checkLabels(labels, eps.get(0).getShape().get(0));
        return reverse(eps, labels, true);
    }

    @Override
    public NDArray decodeZ(List<NDArray> z) {
        glow.checkLatents(z);
        return reverse(z, null, false);
    }

    @Override
    public void close() {
        bound.clear();
    }

    /** An encode's tensors, and for an unknown class the top level's log p under every class and the classes chosen. */
    private record Scripted(Encoding encoding, NDArray byClass, NDArray classes) {}

    private Scripted run(NDArray x, int[] labels) {
        Bindings b = bound.get(this::bind);
        PtNDManager manager = (PtNDManager) x.getManager();
        Map<Result, NDList> out;
        // thread-local in libtorch: the profiling executor would re-specialise the graph for every batch size
        JniUtils.setGraphExecutorOptimize(false);
        try (NDArray labelTensor = labels(manager, labels);
             IValue xi = IValue.from((PtNDArray) x);
             IValue li = IValue.from((PtNDArray) labelTensor);
             IValue result = script.call(Method.ENCODE, Map.of(Parameter.X, xi, Parameter.LABELS, li), b.values())) {
            out = GlowScript.results(result, manager);
        }
        Encoding encoding = new Encoding(out.get(Result.EPS), out.get(Result.Z), out.get(Result.LOG_DET).singletonOrThrow(),
                out.get(Result.LOG_P).singletonOrThrow());
        NDList byClass = out.get(Result.LOG_P_BY_CLASS);
        NDList classes = out.get(Result.CLASSES);
        return new Scripted(encoding, byClass == null ? null : byClass.singletonOrThrow(),
                classes == null ? null : classes.singletonOrThrow());
    }

    private NDArray reverse(List<NDArray> latents, int[] labels, boolean standardised) {
        Bindings b = bound.get(this::bind);
        PtNDManager manager = (PtNDManager) latents.get(0).getManager();
        JniUtils.setGraphExecutorOptimize(false);
        try (NDArray labelTensor = labels(manager, labels);
             IValue l = IValue.listFrom(latents.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
             IValue li = IValue.from((PtNDArray) labelTensor);
             IValue s = IValue.from(standardised);
             IValue result = script.call(Method.DECODE, Map.of(Parameter.LATENTS, l, Parameter.LABELS, li,
                     Parameter.STANDARDISED, s), b.values())) {
            return result.toTensor(manager);
        }
    }

    /** The classes as the script's int64 tensor; empty for an unconditional model or an unknown class. */
    private static NDArray labels(NDManager manager, int[] labels) {
        long[] l = new long[labels == null ? 0 : labels.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = labels[i];
        }
        return manager.create(l);
    }

    /**
     * The script's arguments besides the images, as plain values: every weight under the name the script reads it
     * by, per step and per level, the routes as flags, the sizes and settings. {@link #bind} hands them to libtorch;
     * {@link ScriptExport} writes them for another runtime.
     */
    record Arguments(List<List<Map<String, NDArray>>> steps, List<Map<String, NDArray>> levels,
                     List<Map<String, Boolean>> routes, List<long[]> sizes, Map<String, Long> settings, double[] logNorm,
                     double constantLogDet, Map<String, Double> bounds) {}

    Arguments arguments() {
        GlowConfig config = glow.config();
        int count = config.levels();
        List<List<Map<String, NDArray>>> levelSteps = new ArrayList<>();
        List<Map<String, NDArray>> levels = new ArrayList<>();
        List<Map<String, Boolean>> routeFlags = new ArrayList<>();
        List<long[]> sizes = new ArrayList<>();
        double[] logNorm = new double[count];
        double constant = 0;
        for (int l = 0; l < count; l++) {
            long h = config.levelHeight(l);
            long w = config.levelWidth(l);
            List<Map<String, NDArray>> steps = new ArrayList<>();
            for (FlowStep step : glow.steps(l)) {
                FlowStep.Weights s = step.inferenceWeights(h, w);
                Coupling.Weights c = s.coupling();
                Map<String, NDArray> named = new LinkedHashMap<>();
                named.put(key(Weight.MIX), s.mix());
                named.put(key(Weight.MIX_BIAS), s.mixBias());
                named.put(key(Weight.UNMIX), s.unmix());
                named.put(key(Weight.UNMIX_BIAS), s.unmixBias());
                named.put(key(Weight.IN_KERNEL), c.inKernel());
                named.put(key(Weight.IN_BIAS), c.inBias());
                named.put(key(Weight.HIDDEN_KERNEL), c.hiddenKernel());
                named.put(key(Weight.HIDDEN_BIAS), c.hiddenBias());
                putZeroConv(named, c.out());
                steps.add(named);
                // the same sum, in the same order, as the eager pass's LogDet
                constant += h * w * step.constantLogDet();
            }
            levelSteps.add(steps);
            Map<String, NDArray> level = new LinkedHashMap<>();
            long zSize;
            if (l < count - 1) {
                putZeroConv(level, glow.prior(l).inferenceWeights(h, w));
                zSize = (long) config.flowChannels(l) / 2 * h * w;
            } else {
                NDList table = glow.topPriorTable();
                level.put(key(Weight.TOP_MEAN), table.get(0));
                level.put(key(Weight.TOP_LOG_SD), table.get(1));
                zSize = (long) config.flowChannels(l) * h * w;
            }
            logNorm[l] = -zSize * Glow.HALF_LOG_2PI;
            levels.add(level);
            InferenceRoutes.Level r = routes.levels().get(l);
            Map<String, Boolean> flags = new LinkedHashMap<>();
            flags.put(key(RouteFlag.ROWS_GEMM), r.smallMap());
            flags.put(key(RouteFlag.COL2IM), r.coupling() == InferenceRoutes.ZeroConv.TAPS);
            flags.put(key(RouteFlag.PRIOR_ROWS_GEMM), r.prior() == InferenceRoutes.ZeroConv.ROWS_GEMM);
            flags.put(key(RouteFlag.PRIOR_COL2IM), r.prior() == InferenceRoutes.ZeroConv.TAPS);
            flags.put(key(RouteFlag.PACKED_IN), r.packedIn());
            flags.put(key(RouteFlag.WINDOWED), r.windowed());
            flags.put(key(RouteFlag.PACKED_HIDDEN), r.packedHidden() && !r.smallMap());
            flags.put(key(RouteFlag.ONEDNN_GEMMS), r.oneDnnGemms() && r.smallMap());
            routeFlags.add(flags);
            sizes.add(new long[] {h, w});
        }
        Map<String, Long> settings = new LinkedHashMap<>();
        settings.put(key(Setting.LARGE_BATCH), (long) InferenceRoutes.LARGE_BATCH);
        settings.put(key(Setting.PACKED_BATCH), (long) routes.packedBatch());
        settings.put(key(Setting.AFFINE), config.affine() ? 1L : 0L);
        settings.put(key(Setting.CLASSES), (long) config.numClasses());
        Map<String, Double> bounds = new LinkedHashMap<>();
        bounds.put(key(Bound.MIN_SCALE), (double) Coupling.MIN_SCALE);
        bounds.put(key(Bound.ACTIVATION), (double) Coupling.REVERSE_BOUND);
        return new Arguments(levelSteps, levels, routeFlags, sizes, settings, logNorm, constant, bounds);
    }

    /** The arguments as libtorch values, and oneDNN's packed weights where the routes say so. */
    private Bindings bind() {
        Arguments a = arguments();
        List<IValue> temporary = new ArrayList<>();
        List<IValue> levelSteps = new ArrayList<>();
        for (List<Map<String, NDArray>> steps : a.steps()) {
            List<IValue> values = steps.stream().map(ScriptedPass::dictionary).toList();
            temporary.addAll(values);
            levelSteps.add(IValue.listFrom(values.toArray(IValue[]::new)));
        }
        temporary.addAll(levelSteps);
        List<IValue> levels = a.levels().stream().map(ScriptedPass::dictionary).toList();
        temporary.addAll(levels);
        List<IValue> routeFlags = new ArrayList<>();
        for (Map<String, Boolean> flags : a.routes()) {
            routeFlags.add(values(flags, IValue::from, temporary));
        }
        temporary.addAll(routeFlags);
        List<IValue> sizes = a.sizes().stream().map(IValue::listFrom).toList();
        temporary.addAll(sizes);
        Map<Parameter, IValue> bound = new EnumMap<>(Parameter.class);
        bound.put(Parameter.STEPS, IValue.listFrom(levelSteps.toArray(IValue[]::new)));
        bound.put(Parameter.LEVELS, IValue.listFrom(levels.toArray(IValue[]::new)));
        bound.put(Parameter.ROUTES, IValue.listFrom(routeFlags.toArray(IValue[]::new)));
        bound.put(Parameter.SETTINGS, values(a.settings(), IValue::from, temporary));
        bound.put(Parameter.LOG_NORM, IValue.listFrom(a.logNorm()));
        bound.put(Parameter.CONSTANT_LOG_DET, IValue.from(a.constantLogDet()));
        bound.put(Parameter.BOUNDS, values(a.bounds(), IValue::from, temporary));
        try (IValue sizeList = IValue.listFrom(sizes.toArray(IValue[]::new))) {
            Map<Parameter, IValue> sized = Map.of(Parameter.SIZES, sizeList);
            bound.put(Parameter.PACKED_CONVS, script.call(Method.PREPACK_CONVS, sized, bound));
            bound.put(Parameter.PACKED_GEMMS, script.call(Method.PREPACK_GEMMS, sized, bound));
        }
        temporary.forEach(IValue::close);
        return new Bindings(bound);
    }

    /** A ZeroConv's weights under the names of its route (GlowInference.torchscript's header lists them). */
    private static void putZeroConv(Map<String, NDArray> named, ZeroConv.Weights z) {
        named.put(key(Weight.ZERO_CONSTANT), z.constant());
        switch (z.route()) {
            case ROWS_GEMM -> {
                named.put(key(Weight.ZERO_TAPS), z.taps());
                named.put(key(Weight.ZERO_SHIFT), z.shift());
            }
            case TAPS -> named.put(key(Weight.ZERO_TAPS), z.taps());
            case DIRECT -> named.put(key(Weight.ZERO_KERNEL), z.kernel());
        }
    }

    private static IValue dictionary(Map<String, NDArray> named) {
        Map<String, PtNDArray> tensors = new LinkedHashMap<>();
        named.forEach((k, v) -> tensors.put(k, (PtNDArray) v));
        return IValue.stringMapFrom(tensors);
    }

    /** A dictionary of plain values under their script names; its entries join {@code temporary}. */
    private static <V> IValue values(Map<String, V> values, Function<V, IValue> value, List<IValue> temporary) {
        Map<String, IValue> map = new LinkedHashMap<>();
        values.forEach((k, v) -> map.put(k, value.apply(v)));
        temporary.addAll(map.values());
        return IValue.stringIValueMapFrom(map);
    }
}
