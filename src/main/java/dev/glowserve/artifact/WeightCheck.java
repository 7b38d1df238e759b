package dev.glowserve.artifact;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The weights file against its manifest and against what a Glow is: the architecture read off the tensor names and
 * shapes (each mismatch names the manifest field and the tensor that shows it), every tensor present, of its shape and
 * finite, the LU buffers' structure exact; a DataParallel checkpoint's {@code module.} prefix is accepted.
 */
final class WeightCheck {

    private static final String DATA_PARALLEL_PREFIX = "module.";

    private WeightCheck() {}

    /** Accepts DataParallel checkpoints whose every name starts with {@code module.}. */
    static <T> Map<String, T> stripPrefix(Map<String, T> tensors) {
        if (tensors.isEmpty() || !tensors.keySet().stream().allMatch(k -> k.startsWith(DATA_PARALLEL_PREFIX))) {
            return tensors;
        }
        Map<String, T> out = new java.util.LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k.substring(DATA_PARALLEL_PREFIX.length()), v));
        return out;
    }

    static Map<String, long[]> stripPrefix(List<Safetensors.TensorInfo> header) {
        Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        header.forEach(t -> shapes.put(t.name(), t.shape()));
        return stripPrefix(shapes);
    }

    /**
     * Reads the architecture the weights' header implies and compares it field by field with the manifest, so a
     * mismatch names the field rather than a shape deep inside, before the model is built; each tensor's name and
     * shape are checked as the weights are assigned.
     */
    static void checkArchitecture(String manifestFile, String file, GlowConfig m, Map<String, long[]> t) {
        int levels = count(t, "blocks.");
        mismatch(manifestFile, file, "levels", m.levels(), levels, "blocks.0 .. blocks." + (levels - 1));
        int flows = count(t, "blocks.0.flows.");
        mismatch(manifestFile, file, "flows_per_level", m.flowsPerLevel(), flows, "blocks.0.flows.*");
        String first = "blocks.0.flows.0.";
        long[] loc = t.get(first + "actnorm.loc");
        if (loc != null && loc.length == 4) {
            mismatch(manifestFile, file, "in_channels", m.inChannels(), (int) loc[1] / 4, first + "actnorm.loc " + Arrays.toString(loc));
        }
        long[] net0 = t.get(first + "coupling.net.0.weight");
        if (net0 != null && net0.length == 4) {
            mismatch(manifestFile, file, "hidden_channels", m.hiddenChannels(), (int) net0[0], first + "coupling.net.0.weight " + Arrays.toString(net0));
        }
        long[] net4 = t.get(first + "coupling.net.4.conv.weight");
        if (net4 != null && net4.length == 4) {
            boolean affine = net4[0] == m.flowChannels(0);
            mismatch(manifestFile, file, "affine", m.affine(), affine, first + "coupling.net.4.conv.weight " + Arrays.toString(net4));
        }
        boolean lu = t.containsKey(first + "invconv.w_l");
        boolean plain = t.containsKey(first + "invconv.weight");
        boolean fixed = t.containsKey(first + "invconv.order");
        if (lu || plain || fixed) {
            String found = lu ? "conv-lu" : plain ? "conv" : "a fixed permutation";
            String declared = m.permutation().learnt() ? m.permutation().id() : "a fixed permutation";
            mismatch(manifestFile, file, "permutation", declared, found, first + "invconv." + (lu ? "w_l" : plain ? "weight" : "order"));
        }
        String shiftName = "blocks." + (m.levels() - 1) + ".prior.class_shift";
        long[] shift = t.get(shiftName);
        mismatch(manifestFile, file, "num_classes", m.numClasses(), shift == null || shift.length == 0 ? 0 : (int) shift[0],
                shift == null ? "no " + shiftName : shiftName + " " + Arrays.toString(shift));
    }

    private static void mismatch(String manifestFile, String file, String field, Object manifest, Object weights, String evidence) {
        if (!manifest.equals(weights)) {
            throw new ArtifactException(manifestFile + ": architecture." + field + " is "
                    + manifest + " but " + ModelArtifact.WEIGHTS + " has " + weights + " (" + evidence + ")");
        }
    }

    /** Number of distinct integers i for which some name starts with prefix + i + ".". */
    private static int count(Map<String, ?> t, String prefix) {
        TreeSet<Integer> seen = new TreeSet<>();
        for (String k : t.keySet()) {
            if (k.startsWith(prefix)) {
                String rest = k.substring(prefix.length());
                int dot = rest.indexOf('.');
                if (dot > 0) {
                    try {
                        seen.add(Integer.parseInt(rest.substring(0, dot)));
                    } catch (NumberFormatException ignored) {
                        // not an index
                    }
                }
            }
        }
        return seen.isEmpty() ? 0 : seen.last() + 1;
    }

    static void assign(String file, FlowParameters params, Map<String, NDArray> tensors) {
        Map<String, NDArray> remaining = new HashMap<>(tensors);
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, FlowParameters.Entry> e : params.entries().entrySet()) {
            String name = e.getKey();
            NDArray target = e.getValue().array();
            NDArray source = remaining.remove(name);
            if (source == null) {
                if (!name.endsWith(".actnorm.initialized")) { // older checkpoints lack it
                    missing.add(name);
                }
                continue;
            }
            if (target.getDataType() == DataType.UINT8) {
                checkFlag(file, name, source);
                continue;
            }
            if (!source.getShape().equals(target.getShape())) {
                throw new ArtifactException(file + ": tensor '" + name + "' has shape " + shapeText(source.getShape())
                        + ", expected " + shapeText(target.getShape()));
            }
            if (!source.getDataType().isFloating()) {
                throw new ArtifactException(file + ": tensor '" + name + "' has dtype " + source.getDataType()
                        + ", expected a floating-point type");
            }
            double[] values = Tensors.toDoubles(source.toType(DataType.FLOAT64, false));
            for (int i = 0; i < values.length; i++) {
                if (!Double.isFinite(values[i])) {
                    throw new ArtifactException(file + ": tensor '" + name + "' holds " + values[i] + " at flat index " + i);
                }
            }
            checkStructure(file, name, values, target.getShape());
            Tensors.assign(target, values);
        }
        if (!missing.isEmpty()) {
            throw new ArtifactException(file + ": missing tensor" + (missing.size() > 1 ? "s " : " ") + preview(missing));
        }
        if (!remaining.isEmpty()) {
            throw new ArtifactException(file + ": unexpected tensor" + (remaining.size() > 1 ? "s " : " ")
                    + preview(new ArrayList<>(new TreeSet<>(remaining.keySet()))));
        }
    }

    private static void checkFlag(String file, String name, NDArray source) {
        if (source.size() != 1) {
            throw new ArtifactException(file + ": tensor '" + name + "' should be a scalar flag, has shape " + shapeText(source.getShape()));
        }
    }

    /** The LU buffers are structure, not data: masks, identity, a permutation, signs of ±1. */
    private static void checkStructure(String file, String name, double[] v, Shape shape) {
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        int n = (int) shape.get(0);
        switch (leaf) {
            case "l_mask", "u_mask", "l_eye" -> {
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        double want = switch (leaf) {
                            case "l_mask" -> j < i ? 1 : 0;
                            case "u_mask" -> j > i ? 1 : 0;
                            default -> i == j ? 1 : 0;
                        };
                        if (v[i * n + j] != want) {
                            throw new ArtifactException(file + ": tensor '" + name + "' is not the expected "
                                    + leaf + " (entry [" + i + "][" + j + "] is " + v[i * n + j] + ")");
                        }
                    }
                }
            }
            case "w_p" -> {
                for (int i = 0; i < n; i++) {
                    int rowOnes = 0, columnOnes = 0;
                    for (int j = 0; j < n; j++) {
                        double x = v[i * n + j];
                        if (x != 0 && x != 1) {
                            throw new ArtifactException(file + ": tensor '" + name + "' is not a permutation matrix (entry " + x + ")");
                        }
                        rowOnes += x == 1 ? 1 : 0;
                        columnOnes += v[j * n + i] == 1 ? 1 : 0;
                    }
                    if (rowOnes != 1 || columnOnes != 1) {
                        throw new ArtifactException(file + ": tensor '" + name + "' is not a permutation matrix (row/column " + i + ")");
                    }
                }
            }
            case "s_sign" -> {
                for (int i = 0; i < v.length; i++) {
                    if (v[i] != 1 && v[i] != -1) {
                        throw new ArtifactException(file + ": tensor '" + name + "' must hold only ±1, has " + v[i] + " at " + i);
                    }
                }
            }
            default -> { }
        }
    }

    private static String shapeText(Shape s) {
        return Arrays.toString(s.getShape());
    }

    private static String preview(List<String> names) {
        int show = Math.min(5, names.size());
        String head = String.join(", ", names.subList(0, show));
        return head + (names.size() > show ? " and " + (names.size() - show) + " more" : "");
    }
}
