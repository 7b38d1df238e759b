package dev.glowserve.artifact;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

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
        return readManifest(ArtifactSource.folder(dir));
    }

    public static Manifest readManifest(ArtifactSource source) {
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
    public static Manifest readManifest(ArtifactSource source, long maxBytes) {
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
        return load(ArtifactSource.folder(dir), manager, dataType, DEFAULT_MAX_MODEL_BYTES);
    }

    public static Loaded load(ArtifactSource source, NDManager manager, DataType dataType) {
        return load(source, manager, dataType, DEFAULT_MAX_MODEL_BYTES);
    }

    /**
     * Loads a model onto {@code manager}'s device; the model owns {@code manager}, closed on failure. Everything that
     * can be checked without the model is checked first, so that a refused artifact commits no memory: the manifest,
     * the model's estimated memory and the weights file's size against {@code maxBytes}, and the architecture against
     * the weights' header (names, shapes, the number of weights the manifest implies). Only then are the weights read
     * and the model built.
     */
    public static Loaded load(ArtifactSource source, NDManager manager, DataType dataType, long maxBytes) {
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
     * As {@link #load(ArtifactSource, NDManager, DataType, long)}, with the manifest {@link #readManifest(ArtifactSource, long)} read
     * from {@code source} already (a loader that decided something from it loads the model it decided for).
     */
    public static Loaded load(ArtifactSource source, Manifest manifest, NDManager manager, DataType dataType, long maxBytes) {
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
            WeightCheck.checkArchitecture(source.describe(MANIFEST), weightsFile, config, WeightCheck.stripPrefix(header));
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
            Map<String, NDArray> tensors = WeightCheck.stripPrefix(Safetensors.read(weights, weightsFile, scratch));
            WeightCheck.assign(weightsFile, glow.parameters(), tensors);
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
}
