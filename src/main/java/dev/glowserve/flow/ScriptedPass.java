package dev.glowserve.flow;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Inference as one TorchScript call per pass ({@code GlowInference.torchscript}, compiled by {@link ScriptModule}):
 * the eager layers' ATen ops on their own cached tensors, run by libtorch's interpreter instead of one JNI call and
 * a few Java objects per op, the top prior included. The weights are bound by name, one dictionary per step and per
 * level, in {@link #bind}; the kernel choices come from {@link InferenceRoutes}. Equal to the eager pass to rounding.
 */
final class ScriptedPass implements InferencePass {

    private static final String CLASS_NAME = "GlowInference";

    /** The script's arguments besides the images, built once per parameter version. */
    private record Bound(IValue steps, IValue levels, IValue routes, IValue logNorm, IValue settings, IValue bounds,
                         IValue constantLogDet, IValue packed) implements AutoCloseable {
        @Override
        public void close() {
            for (IValue v : List.of(steps, levels, routes, logNorm, settings, bounds, constantLogDet, packed)) {
                v.close();
            }
        }
    }

    private final Glow glow;
    private final InferenceRoutes routes;
    private final PtSymbolBlock module;
    private final VersionedCache<Bound> bound;

    /**
     * The pass on a compiled module (one per model, shared by the tables {@link RouteTuner} tries) and a table; binds
     * the weights here, so a libtorch that cannot run the script fails at load, not in a request.
     */
    ScriptedPass(Glow glow, InferenceRoutes routes, PtSymbolBlock module) {
        if (routes.prepacked() && !canPrepack(glow)) {
            throw new IllegalArgumentException("oneDNN's prepacked kernels run on CPU in float32 only");
        }
        this.glow = glow;
        this.routes = routes;
        this.module = module;
        this.bound = new VersionedCache<>(glow.parameters());
        bound.get(this::bind);
    }

    static PtSymbolBlock compile(Glow glow, String source) {
        return ScriptModule.compile(glow.parameters().manager(), CLASS_NAME, source);
    }

    /** oneDNN's prepacked kernels: on CPU, in float32. */
    static boolean canPrepack(Glow glow) {
        FlowParameters params = glow.parameters();
        return Device.Type.CPU.equals(params.manager().getDevice().getDeviceType()) && params.dataType() == DataType.FLOAT32;
    }

    InferenceRoutes routes() {
        return routes;
    }

    /** The shipped script's source. */
    static String shippedSource() {
        return ScriptModule.source(CLASS_NAME + ".torchscript");
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
        long[] best = s.chosen().toLongArray();
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
    private record Scripted(Encoding encoding, NDArray byClass, NDArray chosen) {}

    private Scripted run(NDArray x, int[] labels) {
        Bound b = bound.get(this::bind);
        PtNDManager manager = (PtNDManager) x.getManager();
        int count = glow.config().levels();
        NDList out;
        // thread-local in libtorch: the profiling executor would re-specialise the graph for every batch size
        JniUtils.setGraphExecutorOptimize(false);
        try (NDArray labelTensor = labels(manager, labels);
             IValue xi = IValue.from((PtNDArray) x);
             IValue li = IValue.from((PtNDArray) labelTensor);
             IValue result = IValueUtils.runMethod(module, "encode", xi, li, b.steps(), b.levels(), b.routes(), b.logNorm(),
                     b.settings(), b.constantLogDet(), b.packed())) {
            out = result.toNDList(manager);
        }
        Encoding encoding = new Encoding(out.subNDList(2, 2 + count), out.subNDList(2 + count, 2 + 2 * count), out.get(0),
                out.get(1));
        boolean marginal = out.size() > 2 + 2 * count;
        return new Scripted(encoding, marginal ? out.get(2 + 2 * count) : null, marginal ? out.get(3 + 2 * count) : null);
    }

    private NDArray reverse(List<NDArray> latents, int[] labels, boolean standardised) {
        Bound b = bound.get(this::bind);
        PtNDManager manager = (PtNDManager) latents.get(0).getManager();
        JniUtils.setGraphExecutorOptimize(false);
        try (NDArray labelTensor = labels(manager, labels);
             IValue l = IValue.listFrom(latents.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
             IValue li = IValue.from((PtNDArray) labelTensor);
             IValue s = IValue.from(standardised);
             IValue result = IValueUtils.runMethod(module, "decode", l, li, s, b.steps(), b.levels(), b.routes(),
                     b.settings(), b.bounds(), b.packed())) {
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
                     double constantLogDet, double[] bounds) {}

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
                named.put("mix", s.mix());
                named.put("mix_bias", s.mixBias());
                named.put("unmix", s.unmix());
                named.put("unmix_bias", s.unmixBias());
                named.put("in_kernel", c.inKernel());
                named.put("in_bias", c.inBias());
                named.put("hidden_kernel", c.hiddenKernel());
                named.put("hidden_bias", c.hiddenBias());
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
                level.put("top_mean", table.get(0));
                level.put("top_log_sd", table.get(1));
                zSize = (long) config.flowChannels(l) * h * w;
            }
            logNorm[l] = -zSize * Glow.HALF_LOG_2PI;
            levels.add(level);
            InferenceRoutes.Level r = routes.levels().get(l);
            Map<String, Boolean> flags = new LinkedHashMap<>();
            flags.put("rows_gemm", r.smallMap());
            flags.put("col2im", r.coupling() == InferenceRoutes.ZeroConv.TAPS);
            flags.put("prior_rows_gemm", r.prior() == InferenceRoutes.ZeroConv.ROWS_GEMM);
            flags.put("prior_col2im", r.prior() == InferenceRoutes.ZeroConv.TAPS);
            flags.put("packed_in", r.packedIn());
            flags.put("windowed", r.windowed());
            flags.put("packed_hidden", r.packedHidden() && !r.smallMap());
            flags.put("onednn_gemms", r.oneDnnGemms() && r.smallMap());
            routeFlags.add(flags);
            sizes.add(new long[] {h, w});
        }
        Map<String, Long> settings = new LinkedHashMap<>();
        settings.put("large_batch", (long) InferenceRoutes.LARGE_BATCH);
        settings.put("packed_batch", (long) routes.packedBatch());
        settings.put("affine", config.affine() ? 1L : 0L);
        settings.put("classes", (long) config.numClasses());
        return new Arguments(levelSteps, levels, routeFlags, sizes, settings, logNorm, constant,
                new double[] {Coupling.MIN_SCALE, Coupling.REVERSE_BOUND});
    }

    /** The arguments as libtorch values, and oneDNN's packed weights where the routes say so. */
    private Bound bind() {
        Arguments a = arguments();
        List<IValue> temporary = new ArrayList<>();
        List<IValue> levelSteps = new ArrayList<>();
        for (List<Map<String, NDArray>> steps : a.steps()) {
            List<IValue> values = steps.stream().map(ScriptedPass::dictionary).toList();
            temporary.addAll(values);
            levelSteps.add(IValue.listFrom(values.toArray(IValue[]::new)));
        }
        List<IValue> levels = a.levels().stream().map(ScriptedPass::dictionary).toList();
        List<IValue> routeFlags = new ArrayList<>();
        for (Map<String, Boolean> flags : a.routes()) {
            routeFlags.add(flags(flags, temporary));
        }
        List<IValue> sizes = a.sizes().stream().map(IValue::listFrom).toList();
        temporary.addAll(sizes);
        IValue settings = integers(a.settings(), temporary);
        IValue steps = IValue.listFrom(levelSteps.toArray(IValue[]::new));
        temporary.addAll(levelSteps);
        IValue routeList = IValue.listFrom(routeFlags.toArray(IValue[]::new));
        temporary.addAll(routeFlags);
        IValue packed;
        try (IValue sizeList = IValue.listFrom(sizes.toArray(IValue[]::new))) {
            packed = IValueUtils.runMethod(module, "prepack", steps, routeList, sizeList, settings);
        }
        IValue levelList = IValue.listFrom(levels.toArray(IValue[]::new));
        temporary.addAll(levels);
        temporary.forEach(IValue::close);
        return new Bound(steps, levelList, routeList, IValue.listFrom(a.logNorm()), settings,
                IValue.listFrom(a.bounds()), IValue.from(a.constantLogDet()), packed);
    }

    /** A ZeroConv's weights under the names of its route (GlowInference.torchscript's header lists them). */
    private static void putZeroConv(Map<String, NDArray> named, ZeroConv.Weights z) {
        named.put("zero_constant", z.constant());
        switch (z.route()) {
            case ROWS_GEMM -> {
                named.put("zero_taps", z.taps());
                named.put("zero_shift", z.shift());
            }
            case TAPS -> named.put("zero_taps", z.taps());
            case DIRECT -> named.put("zero_kernel", z.kernel());
        }
    }

    private static IValue dictionary(Map<String, NDArray> named) {
        Map<String, PtNDArray> tensors = new LinkedHashMap<>();
        named.forEach((k, v) -> tensors.put(k, (PtNDArray) v));
        return IValue.stringMapFrom(tensors);
    }

    private static IValue flags(Map<String, Boolean> values, List<IValue> temporary) {
        Map<String, IValue> map = new LinkedHashMap<>();
        values.forEach((k, v) -> map.put(k, IValue.from(v)));
        temporary.addAll(map.values());
        return IValue.stringIValueMapFrom(map);
    }

    private static IValue integers(Map<String, Long> values, List<IValue> temporary) {
        Map<String, IValue> map = new LinkedHashMap<>();
        values.forEach((k, v) -> map.put(k, IValue.from(v)));
        temporary.addAll(map.values());
        return IValue.stringIValueMapFrom(map);
    }
}
