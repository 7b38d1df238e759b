package dev.glowserve.artifact;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Tensors;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A model on disk: a folder with {@code manifest.json} and {@code weights.safetensors} named as
 * rosinality/glow-pytorch's {@code state_dict} (docs/DESIGN.md). Loading either yields a complete,
 * initialised model or fails with one message naming the file, tensor or field.
 */
public final class ModelArtifact {

    public static final String MANIFEST = "manifest.json";
    public static final String WEIGHTS = "weights.safetensors";

    public static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    private static final String DATA_PARALLEL_PREFIX = "module.";

    /** A loaded model, its manifest and, if the artifact has them, per-class latent means and its OOD calibration. */
    public record Loaded(Manifest manifest, Glow glow, float[][][] classMeans, Calibration calibration) implements AutoCloseable {
        @Override
        public void close() {
            glow.close();
        }
    }

    private ModelArtifact() {}

    /** Where an artifact's two files come from: a folder, or the classpath (the shipped model). */
    public interface Source {
        String describe(String file);

        byte[] read(String file) throws IOException;

        static Source folder(Path dir) {
            return new Source() {
                @Override
                public String describe(String file) {
                    return dir.resolve(file).toString();
                }

                @Override
                public byte[] read(String file) throws IOException {
                    return Files.readAllBytes(dir.resolve(file));
                }
            };
        }

        static Source classpath(String resourceDir) {
            String base = resourceDir.endsWith("/") ? resourceDir : resourceDir + "/";
            return new Source() {
                @Override
                public String describe(String file) {
                    return "classpath:" + base + file;
                }

                @Override
                public byte[] read(String file) throws IOException {
                    try (var in = ModelArtifact.class.getClassLoader().getResourceAsStream(base + file)) {
                        if (in == null) {
                            throw new NoSuchFileException(describe(file));
                        }
                        return in.readAllBytes();
                    }
                }
            };
        }

        /** "classpath:dir" or a folder path. */
        static Source parse(String spec) {
            return spec.startsWith("classpath:") ? classpath(spec.substring("classpath:".length())) : folder(Path.of(spec));
        }
    }

    public static Manifest readManifest(Path dir) {
        return readManifest(Source.folder(dir));
    }

    public static Manifest readManifest(Source source) {
        String file = source.describe(MANIFEST);
        Manifest m;
        try {
            m = JSON.readValue(source.read(MANIFEST), Manifest.class);
        } catch (NoSuchFileException e) {
            throw new ArtifactException(file + ": missing (a model folder needs " + MANIFEST + " and " + WEIGHTS + ")");
        } catch (IOException e) {
            throw new ArtifactException(file + ": cannot read (" + e.getMessage() + ")", e);
        } catch (JacksonException e) {
            throw new ArtifactException(file + ": not a valid manifest (" + e.getOriginalMessage() + ")");
        }
        if (m == null) {
            throw new ArtifactException(file + ": empty manifest");
        }
        if (m.name() == null || m.name().isBlank()) {
            throw new ArtifactException(file + ": field 'name' is missing");
        }
        if (m.architecture() == null) {
            throw new ArtifactException(file + ": field 'architecture' is missing");
        }
        if (m.nBits() != null && (m.nBits() < 1 || m.nBits() > 8)) {
            throw new ArtifactException(file + ": n_bits must be 1..8, got " + m.nBits());
        }
        GlowConfig config = m.architecture().toConfig();
        if (m.classNames() != null && m.classNames().size() != config.numClasses()) {
            throw new ArtifactException(file + ": class_names has " + m.classNames().size()
                    + " entries but architecture.num_classes is " + config.numClasses());
        }
        return m;
    }

    /** Loads a model folder onto {@code manager}'s device. The model owns {@code manager}. */
    public static Loaded load(Path dir, NDManager manager, DataType dataType) {
        return load(Source.folder(dir), manager, dataType);
    }

    /** Loads a model onto {@code manager}'s device; the model owns {@code manager}, closed on failure. */
    public static Loaded load(Source source, NDManager manager, DataType dataType) {
        Manifest manifest;
        byte[] weights;
        String weightsFile = source.describe(WEIGHTS);
        try {
            manifest = readManifest(source);
            weights = source.read(WEIGHTS);
        } catch (NoSuchFileException e) {
            manager.close();
            throw new ArtifactException(weightsFile + ": missing");
        } catch (IOException e) {
            manager.close();
            throw new ArtifactException(weightsFile + ": cannot read (" + e.getMessage() + ")", e);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        GlowConfig config = manifest.architecture().toConfig();
        Glow glow = Glow.create(config, manager, dataType, 0);
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> tensors = stripPrefix(Safetensors.read(weights, weightsFile, scratch));
            checkArchitecture(source.describe(MANIFEST), weightsFile, config, tensors);
            assign(weightsFile, glow.parameters(), tensors);
        } catch (RuntimeException e) {
            glow.close();
            throw e instanceof ArtifactException ? e : new ArtifactException(weightsFile + ": " + e.getMessage(), e);
        }
        glow.markInitialized();
        glow.parameters().markUpdated();
        float[][][] means = null;
        if (config.conditional()) {
            try {
                means = ClassMeans.read(source, config, manager);
            } catch (RuntimeException e) {
                glow.close();
                throw e;
            }
        }
        Calibration calibration;
        try {
            calibration = Calibration.read(source);
        } catch (RuntimeException e) {
            glow.close();
            throw e;
        }
        return new Loaded(manifest, glow, means, calibration);
    }

    /** Writes manifest and weights atomically (each file is replaced whole or not at all). */
    public static void save(Path dir, Manifest manifest, Glow glow) throws IOException {
        Files.createDirectories(dir);
        AtomicFiles.write(dir.resolve(WEIGHTS), weightsBytes(glow.parameters()));
        AtomicFiles.write(dir.resolve(MANIFEST), JSON.writeValueAsBytes(manifest));
    }

    public static byte[] weightsBytes(FlowParameters params) {
        NDList list = new NDList();
        for (Map.Entry<String, FlowParameters.Entry> e : params.entries().entrySet()) {
            NDArray a = e.getValue().array();
            if (a.getName() == null || !a.getName().equals(e.getKey())) {
                a.setName(e.getKey());
            }
            list.add(a);
        }
        return Safetensors.encode(list);
    }

    /** Accepts DataParallel checkpoints whose every name starts with {@code module.}. */
    private static Map<String, NDArray> stripPrefix(Map<String, NDArray> tensors) {
        if (tensors.isEmpty() || !tensors.keySet().stream().allMatch(k -> k.startsWith(DATA_PARALLEL_PREFIX))) {
            return tensors;
        }
        Map<String, NDArray> out = new java.util.LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k.substring(DATA_PARALLEL_PREFIX.length()), v));
        return out;
    }

    /**
     * Reads the architecture the weights imply and compares it field by field with the manifest,
     * so a mismatch names the field rather than a shape deep inside.
     */
    private static void checkArchitecture(String manifestFile, String file, GlowConfig m, Map<String, NDArray> t) {
        int levels = count(t, "blocks.");
        mismatch(manifestFile, file, "levels", m.levels(), levels, "blocks.0 .. blocks." + (levels - 1));
        int flows = count(t, "blocks.0.flows.");
        mismatch(manifestFile, file, "flows_per_level", m.flowsPerLevel(), flows, "blocks.0.flows.*");
        String first = "blocks.0.flows.0.";
        NDArray loc = t.get(first + "actnorm.loc");
        if (loc != null && loc.getShape().dimension() == 4) {
            mismatch(manifestFile, file, "in_channels", m.inChannels(), (int) loc.getShape().get(1) / 4, first + "actnorm.loc " + loc.getShape());
        }
        NDArray net0 = t.get(first + "coupling.net.0.weight");
        if (net0 != null && net0.getShape().dimension() == 4) {
            mismatch(manifestFile, file, "hidden_channels", m.hiddenChannels(), (int) net0.getShape().get(0), first + "coupling.net.0.weight " + net0.getShape());
        }
        NDArray net4 = t.get(first + "coupling.net.4.conv.weight");
        if (net4 != null && net4.getShape().dimension() == 4) {
            boolean affine = net4.getShape().get(0) == m.flowChannels(0);
            mismatch(manifestFile, file, "affine", m.affine(), affine, first + "coupling.net.4.conv.weight " + net4.getShape());
        }
        boolean lu = t.containsKey(first + "invconv.w_l");
        boolean plain = t.containsKey(first + "invconv.weight");
        if (lu || plain) {
            mismatch(manifestFile, file, "lu", m.lu(), lu, lu ? first + "invconv.w_l" : first + "invconv.weight");
        }
        String shiftName = "blocks." + (m.levels() - 1) + ".prior.class_shift";
        NDArray shift = t.get(shiftName);
        mismatch(manifestFile, file, "num_classes", m.numClasses(), shift == null ? 0 : (int) shift.getShape().get(0),
                shift == null ? "no " + shiftName : shiftName + " " + shift.getShape());
    }

    private static void mismatch(String manifestFile, String file, String field, Object manifest, Object weights, String evidence) {
        if (!manifest.equals(weights)) {
            throw new ArtifactException(manifestFile + ": architecture." + field + " is "
                    + manifest + " but " + WEIGHTS + " has " + weights + " (" + evidence + ")");
        }
    }

    /** Number of distinct integers i for which some name starts with prefix + i + ".". */
    private static int count(Map<String, NDArray> t, String prefix) {
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

    private static void assign(String file, FlowParameters params, Map<String, NDArray> tensors) {
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
