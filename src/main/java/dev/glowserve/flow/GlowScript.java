package dev.glowserve.flow;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The compiled {@code GlowInference} module and every name Java shares with it: the methods, their parameters,
 * {@code encode}'s results and the keys of the weight, route, setting and bound dictionaries. Java passes arguments
 * by name, put in the order of the script's own {@code def} line, and reads results by name. Compiling checks both
 * sides: every parameter of a method Java calls has a name here, and every string key the script subscripts is one
 * of these names or one the script makes for itself; every name here appears in the script. A slip fails at load.
 */
final class GlowScript {

    static final String CLASS_NAME = "GlowInference";

    /** The methods Java calls. */
    enum Method { ENCODE, DECODE, PREPACK_CONVS, PREPACK_GEMMS }

    /** Their parameters, named as in the script. */
    enum Parameter {
        X, LABELS, LATENTS, STANDARDISED, STEPS, LEVELS, ROUTES, SIZES, LOG_NORM, SETTINGS, CONSTANT_LOG_DET, BOUNDS,
        PACKED_CONVS, PACKED_GEMMS
    }

    /** {@code encode}'s results, each a list of tensors; the last two only for "the most probable class". */
    enum Result { LOG_DET, LOG_P, EPS, Z, LOG_P_BY_CLASS, CLASSES }

    /** A step's or a level's weights ({@code steps[l][k]}, {@code levels[l]}). */
    enum Weight {
        MIX, MIX_BIAS, UNMIX, UNMIX_BIAS, IN_KERNEL, IN_BIAS, HIDDEN_KERNEL, HIDDEN_BIAS,
        ZERO_CONSTANT, ZERO_TAPS, ZERO_SHIFT, ZERO_KERNEL, TOP_MEAN, TOP_LOG_SD
    }

    /** A level's routes ({@code routes[l]}), from the {@link InferenceRoutes} table. */
    enum RouteFlag { ROWS_GEMM, COL2IM, PRIOR_ROWS_GEMM, PRIOR_COL2IM, PACKED_IN, WINDOWED, PACKED_HIDDEN, ONEDNN_GEMMS }

    /** The integers in {@code settings}. */
    enum Setting { LARGE_BATCH, PACKED_BATCH, AFFINE, CLASSES }

    /** The reverse pass's bounds ({@code bounds}): the smallest coupling scale and the bound on activations. */
    enum Bound { MIN_SCALE, ACTIVATION }

    /** Keys the script makes and reads itself (its packed kernels per step), never given or read by Java. */
    private static final Set<String> SCRIPT_KEYS = Set.of("in", "hidden", "taps");

    private static final Pattern DEF = Pattern.compile("\\n  def (\\w+)\\(self: [\\w.]+,(.*?)\\) ->", Pattern.DOTALL);
    private static final Pattern KEY = Pattern.compile("\\[\"(\\w+)\"]");

    private final PtSymbolBlock module;
    private final Map<Method, List<Parameter>> parameters;

    private GlowScript(PtSymbolBlock module, Map<Method, List<Parameter>> parameters) {
        this.module = module;
        this.parameters = parameters;
    }

    /** The script's name for a Java name: the constant in lower case. */
    static String key(Enum<?> name) {
        return name.name().toLowerCase(Locale.ROOT);
    }

    /** The shipped script's source. */
    static String shippedSource() {
        return ScriptModule.source(CLASS_NAME + ".torchscript");
    }

    /** Checks {@code source} against the names here, then has libtorch compile it. */
    static GlowScript compile(NDManager manager, String source) {
        Map<Method, List<Parameter>> parameters = signatures(source);
        checkKeys(source);
        return new GlowScript(ScriptModule.compile(manager, CLASS_NAME, source), parameters);
    }

    /**
     * Calls {@code method} with each parameter its {@code def} line declares, from the call's {@code own} values or
     * else the {@code bound} ones; an own value the method does not take, or a parameter neither gives, is refused.
     * The caller closes the result.
     */
    IValue call(Method method, Map<Parameter, IValue> own, Map<Parameter, IValue> bound) {
        List<Parameter> order = parameters.get(method);
        IValue[] arguments = new IValue[order.size()];
        for (int i = 0; i < arguments.length; i++) {
            Parameter p = order.get(i);
            arguments[i] = own.containsKey(p) ? own.get(p) : bound.get(p);
        }
        if (!order.containsAll(own.keySet()) || Arrays.asList(arguments).contains(null)) {
            Set<Parameter> given = new TreeSet<>(own.keySet());
            order.stream().filter(bound::containsKey).forEach(given::add);
            throw new IllegalArgumentException(key(method) + " takes " + names(order) + ", given " + names(given));
        }
        return IValueUtils.runMethod(module, key(method), arguments);
    }

    private static List<String> names(java.util.Collection<? extends Enum<?>> names) {
        return names.stream().map(GlowScript::key).toList();
    }

    /** {@code encode}'s result by name, as tensors of {@code manager}; closes the dictionary's values. */
    static Map<Result, NDList> results(IValue dictionary, PtNDManager manager) {
        Map<Result, NDList> out = new EnumMap<>(Result.class);
        for (Map.Entry<String, IValue> e : dictionary.toIValueMap().entrySet()) {
            try (IValue list = e.getValue()) {
                out.put(Result.valueOf(e.getKey().toUpperCase(Locale.ROOT)), new NDList(list.toTensorArray(manager)));
            }
        }
        return out;
    }

    /** Each method's parameter names from its {@code def} line, in order; a name Java lacks or a method missing fails. */
    private static Map<Method, List<Parameter>> signatures(String source) {
        Map<Method, List<Parameter>> out = new EnumMap<>(Method.class);
        Set<String> called = Arrays.stream(Method.values()).map(GlowScript::key).collect(Collectors.toSet());
        Matcher m = DEF.matcher(source);
        while (m.find()) {
            if (!called.contains(m.group(1))) {
                continue;
            }
            List<Parameter> names = new ArrayList<>();
            for (String declaration : topLevel(m.group(2))) {
                String name = declaration.substring(0, declaration.indexOf(':')).strip();
                try {
                    names.add(Parameter.valueOf(name.toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException unknown) {
                    throw new IllegalArgumentException("script parameter " + m.group(1) + "(" + name + ") has no Java name");
                }
            }
            out.put(Method.valueOf(m.group(1).toUpperCase(Locale.ROOT)), List.copyOf(names));
        }
        if (out.size() != Method.values().length) {
            Set<Method> missing = new TreeSet<>(List.of(Method.values()));
            missing.removeAll(out.keySet());
            throw new IllegalArgumentException("script lacks the methods " + missing);
        }
        return out;
    }

    /** The script's dictionary keys against the Java names, both ways. */
    private static void checkKeys(String source) {
        Set<String> java = Stream.of(Result.values(), Weight.values(), RouteFlag.values(), Setting.values(), Bound.values())
                .flatMap(Arrays::stream).map(GlowScript::key).collect(Collectors.toSet());
        Set<String> script = new HashSet<>();
        KEY.matcher(source).results().forEach(r -> script.add(r.group(1)));
        Set<String> unknown = new TreeSet<>(script);
        unknown.removeAll(java);
        unknown.removeAll(SCRIPT_KEYS);
        Set<String> unread = new TreeSet<>(java);
        unread.removeAll(script);
        if (!unknown.isEmpty() || !unread.isEmpty()) {
            throw new IllegalArgumentException("script and Java disagree on names: the script's " + unknown
                    + " have no Java name, Java's " + unread + " are not in the script");
        }
    }

    /** The comma-separated declarations of a parameter list, commas inside type brackets kept. */
    private static List<String> topLevel(String list) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < list.length(); i++) {
            char c = list.charAt(i);
            if (c == '[') {
                depth++;
            } else if (c == ']') {
                depth--;
            } else if (c == ',' && depth == 0) {
                parts.add(list.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(list.substring(start));
        return parts.stream().filter(p -> !p.isBlank()).toList();
    }
}
