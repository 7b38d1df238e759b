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
import java.io.InputStream;
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

    /** The most a manifest may be; it is a few hundred bytes. */
    static final long MAX_MANIFEST_BYTES = 1 << 20;
    /** The most a model may take unless a caller says otherwise (the service's glow.limits.max-model-bytes). */
    public static final long DEFAULT_MAX_MODEL_BYTES = 2L << 30;
    /** The batch a model's memory estimate allows for: the runner's chunk. */
    private static final int ESTIMATE_BATCH = 64;

    /**
     * Where an artifact's files come from: a folder, or the classpath (the shipped model). Every file is a regular
     * file whose size is checked before a byte of it is read, and messages name it by {@link #describe}: a folder's
     * label (the repository's {@code name/version} when served, so no server path reaches a client), or its path.
     */
    public interface Source {
        String describe(String file);

        /** The file's size in bytes, or -1 where only reading tells (the classpath). */
        long size(String file) throws IOException;

        InputStream open(String file) throws IOException;

        /** The whole file, refused before it is read when larger than {@code max} bytes. */
        default byte[] read(String file, long max) throws IOException {
            long size = size(file);
            if (size > max) {
                throw new ArtifactException(describe(file) + ": " + size + " bytes, more than the limit of " + max);
            }
            try (InputStream in = open(file)) {
                byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 16, max + 1));
                if (bytes.length > max) {
                    throw new ArtifactException(describe(file) + ": more than the limit of " + max + " bytes");
                }
                return bytes;
            }
        }

        static Source folder(Path dir) {
            return folder(dir, dir.toString());
        }

        /** A folder whose files are named {@code label/file} in messages. */
        static Source folder(Path dir, String label) {
            return new Source() {
                @Override
                public String describe(String file) {
                    return label + "/" + file;
                }

                @Override
                public long size(String file) throws IOException {
                    Path p = dir.resolve(file);
                    if (Files.exists(p) && !Files.isRegularFile(p)) { // a device or a folder: no size to trust
                        throw new ArtifactException(describe(file) + ": not a regular file");
                    }
                    return Files.size(p);
                }

                @Override
                public InputStream open(String file) throws IOException {
                    size(file);
                    return Files.newInputStream(dir.resolve(file));
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
                public long size(String file) throws IOException {
                    if (ModelArtifact.class.getClassLoader().getResource(base + file) == null) {
                        throw new NoSuchFileException(describe(file));
                    }
                    return -1;
                }

                @Override
                public InputStream open(String file) throws IOException {
                    InputStream in = ModelArtifact.class.getClassLoader().getResourceAsStream(base + file);
                    if (in == null) {
                        throw new NoSuchFileException(describe(file));
                    }
                    return in;
                }
            };
        }

        /** "classpath:dir" or a folder path. */
        static Source parse(String spec) {
            return parse(spec, spec);
        }

        /** "classpath:dir" or a folder named {@code label} in messages. */
        static Source parse(String spec, String label) {
            return spec.startsWith("classpath:") ? classpath(spec.substring("classpath:".length())) : folder(Path.of(spec), label);
        }
    }

    /** Why a file could not be read, without its path (an IOException's message is often just the path). */
    static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "missing";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return "I/O error (" + e.getClass().getSimpleName() + ")";
    }

    /** The field a Jackson error is at, as the JSON spells it ({@code items[0].class}); empty at the top. */
    public static String jsonPath(JacksonException e) {
        StringBuilder path = new StringBuilder();
        for (JacksonException.Reference r : e.getPath()) {
            if (r.getPropertyName() != null) {
                path.append(path.isEmpty() ? "" : ".").append(r.getPropertyName());
            } else if (r.getIndex() >= 0) {
                path.append('[').append(r.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    /**
     * What is wrong with a JSON file, by position or field, never by its content: a manifest that is a link to
     * another file must not show that file's lines.
     */
    static String jsonProblem(JacksonException e) {
        String field = jsonPath(e);
        if (!field.isEmpty()) {
            return "field '" + field + "' has the wrong type or value";
        }
        var at = e.getLocation();
        return at == null || at.getLineNr() < 0 ? "not valid JSON" : "not valid JSON at line " + at.getLineNr() + ", column " + at.getColumnNr();
    }

    public static Manifest readManifest(Path dir) {
        return readManifest(Source.folder(dir));
    }

    public static Manifest readManifest(Source source) {
        String file = source.describe(MANIFEST);
        Manifest m;
        try {
            m = JSON.readValue(source.read(MANIFEST, MAX_MANIFEST_BYTES), Manifest.class);
        } catch (NoSuchFileException e) {
            throw new ArtifactException(file + ": missing (a model folder needs " + MANIFEST + " and " + WEIGHTS + ")");
        } catch (IOException e) {
            throw new ArtifactException(file + ": cannot read (" + reason(e) + ")", e);
        } catch (JacksonException e) {
            throw new ArtifactException(file + ": not a valid manifest (" + jsonProblem(e) + ")");
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

    /** The manifest, refused if its architecture would take more than {@code maxBytes} (weights, caches, a batch). */
    public static Manifest readManifest(Source source, long maxBytes) {
        Manifest manifest = readManifest(source);
        long estimate = manifest.architecture().toConfig().estimatedBytes(ESTIMATE_BATCH);
        if (estimate > maxBytes) {
            throw new ArtifactException(source.describe(MANIFEST) + ": the architecture needs about " + mib(estimate)
                    + " MiB (weights, caches and a batch of " + ESTIMATE_BATCH + "), more than the limit of " + mib(maxBytes) + " MiB");
        }
        return manifest;
    }

    /** Loads a model folder onto {@code manager}'s device. The model owns {@code manager}. */
    public static Loaded load(Path dir, NDManager manager, DataType dataType) {
        return load(Source.folder(dir), manager, dataType, DEFAULT_MAX_MODEL_BYTES);
    }

    public static Loaded load(Source source, NDManager manager, DataType dataType) {
        return load(source, manager, dataType, DEFAULT_MAX_MODEL_BYTES);
    }

    /**
     * Loads a model onto {@code manager}'s device; the model owns {@code manager}, closed on failure. Everything that
     * can be checked without the model is checked first, so that a refused artifact commits no memory: the manifest,
     * the model's estimated memory and the weights file's size against {@code maxBytes}, and the architecture against
     * the weights' header (names, shapes, the number of weights the manifest implies). Only then are the weights read
     * and the model built.
     */
    public static Loaded load(Source source, NDManager manager, DataType dataType, long maxBytes) {
        Manifest manifest;
        try {
            manifest = readManifest(source, maxBytes);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        return load(source, manifest, manager, dataType, maxBytes);
    }

    /**
     * As {@link #load(Source, NDManager, DataType, long)}, with the manifest {@link #readManifest(Source, long)} read
     * from {@code source} already (a loader that decided something from it loads the model it decided for).
     */
    public static Loaded load(Source source, Manifest manifest, NDManager manager, DataType dataType, long maxBytes) {
        byte[] weights;
        String weightsFile = source.describe(WEIGHTS);
        GlowConfig config = manifest.architecture().toConfig();
        try {
            long size = source.size(WEIGHTS);
            if (size > maxBytes) {
                throw new ArtifactException(weightsFile + ": " + size + " bytes, more than the limit of " + maxBytes);
            }
            List<Safetensors.TensorInfo> header;
            if (size < 0) { // a size known only by reading (the classpath): read, bounded, then check
                weights = source.read(WEIGHTS, maxBytes);
                header = Safetensors.validate(weights, weightsFile);
            } else {
                try (InputStream in = source.open(WEIGHTS)) {
                    header = Safetensors.validate(Safetensors.readHeader(in, weightsFile), size, weightsFile);
                }
                weights = null;
            }
            checkArchitecture(source.describe(MANIFEST), weightsFile, config, stripPrefix(header));
            if (weights == null) {
                weights = source.read(WEIGHTS, maxBytes);
            }
        } catch (NoSuchFileException e) {
            manager.close();
            throw new ArtifactException(weightsFile + ": missing");
        } catch (IOException e) {
            manager.close();
            throw new ArtifactException(weightsFile + ": cannot read (" + reason(e) + ")", e);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        Glow glow = Glow.create(config, manager, dataType, 0);
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> tensors = stripPrefix(Safetensors.read(weights, weightsFile, scratch));
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
                means = ClassMeans.read(source, config, manager, maxBytes);
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

    private static long mib(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
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
    private static <T> Map<String, T> stripPrefix(Map<String, T> tensors) {
        if (tensors.isEmpty() || !tensors.keySet().stream().allMatch(k -> k.startsWith(DATA_PARALLEL_PREFIX))) {
            return tensors;
        }
        Map<String, T> out = new java.util.LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k.substring(DATA_PARALLEL_PREFIX.length()), v));
        return out;
    }

    private static Map<String, long[]> stripPrefix(List<Safetensors.TensorInfo> header) {
        Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        header.forEach(t -> shapes.put(t.name(), t.shape()));
        return stripPrefix(shapes);
    }

    /**
     * Reads the architecture the weights' header implies and compares it field by field with the manifest, so a
     * mismatch names the field rather than a shape deep inside, before the model is built; each tensor's name and
     * shape are checked as the weights are assigned.
     */
    private static void checkArchitecture(String manifestFile, String file, GlowConfig m, Map<String, long[]> t) {
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
        if (lu || plain) {
            mismatch(manifestFile, file, "lu", m.lu(), lu, lu ? first + "invconv.w_l" : first + "invconv.weight");
        }
        String shiftName = "blocks." + (m.levels() - 1) + ".prior.class_shift";
        long[] shift = t.get(shiftName);
        mismatch(manifestFile, file, "num_classes", m.numClasses(), shift == null || shift.length == 0 ? 0 : (int) shift[0],
                shift == null ? "no " + shiftName : shiftName + " " + Arrays.toString(shift));
    }

    private static void mismatch(String manifestFile, String file, String field, Object manifest, Object weights, String evidence) {
        if (!manifest.equals(weights)) {
            throw new ArtifactException(manifestFile + ": architecture." + field + " is "
                    + manifest + " but " + WEIGHTS + " has " + weights + " (" + evidence + ")");
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
