package dev.glowserve.serving;

import dev.glowserve.artifact.ModelRepository;
import dev.glowserve.runtime.ClientError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The model repository ({@code glow.model-repository}, Triton's layout) and what may be done with it: at start-up the
 * latest version of each model {@code glow.load-models} names is served; with {@code glow.model-control=explicit} a
 * version is loaded (swapped in once the served one's requests finish) or a model unloaded while the service runs; the
 * index lists every version with its state. A version that fails to load changes nothing: the served one stays.
 */
@Component
public class RepositoryControl {

    private static final Logger LOG = LoggerFactory.getLogger(RepositoryControl.class);

    /** A model version in the repository and whether it is the one served. */
    public record IndexEntry(String name, String version, String state, String reason) {}

    private final ModelRegistry registry;
    private final GlowProperties properties;
    private final ModelRepository repository;
    /** Why a repository version last failed to load, for the index. */
    private final Map<String, String> loadFailures = new ConcurrentHashMap<>();

    public RepositoryControl(ModelRegistry registry, GlowProperties properties) {
        this.registry = registry;
        this.properties = properties;
        this.repository = properties.modelRepository() == null || properties.modelRepository().isBlank() ? null
                : new ModelRepository(Path.of(properties.modelRepository()));
        if (repository != null) {
            serveAtStartUp();
        }
    }

    /** The latest version of each model glow.load-models names, unless a configured model holds the name. */
    private void serveAtStartUp() {
        List<ModelRepository.Version> latest = latestVersions();
        for (String wanted : properties.loadModels()) {
            if (!wanted.equals("*") && latest.stream().noneMatch(v -> v.name().equals(wanted))) {
                throw new ModelRegistry.ModelLoadException("glow.load-models names '" + wanted
                        + "', which the model repository does not hold", null);
            }
        }
        for (ModelRepository.Version v : latest) {
            if (properties.loadsAtStartUp(v.name()) && !registry.serves(v.name())) {
                try {
                    registry.serve(registry.open(v.path().toString(), label(v), v.name(), v.version()));
                } catch (RuntimeException e) {
                    loadFailures.put(label(v), e.getMessage());
                    LOG.error("model '{}' version {} from the repository is unavailable: {}", v.name(), v.version(), e.getMessage());
                    registry.serve(ServedModel.unavailable(v.name(), v.version(), v.path().toString(), e.getMessage()));
                }
            }
        }
    }

    private List<ModelRepository.Version> latestVersions() {
        Map<String, ModelRepository.Version> latest = new LinkedHashMap<>();
        for (ModelRepository.Version v : repository.versions()) {
            latest.put(v.name(), v); // versions come lowest first
        }
        return new ArrayList<>(latest.values());
    }

    /** How messages name a repository version: {@code name/version}, never a server path. */
    private static String label(ModelRepository.Version v) {
        return v.name() + "/" + v.version();
    }

    public boolean explicitControl() {
        return repository != null && properties.modelControl() == GlowProperties.ModelControl.EXPLICIT;
    }

    /** Every version in the repository (and every configured model) with its state: READY or UNAVAILABLE. */
    public List<IndexEntry> index() {
        List<IndexEntry> out = new ArrayList<>();
        List<ServedModel> now = registry.models();
        if (repository != null) {
            for (ModelRepository.Version v : repository.versions()) {
                boolean ready = now.stream().anyMatch(s -> s.name().equals(v.name()) && s.available()
                        && v.version().equals(s.version()));
                String failure = loadFailures.get(label(v));
                out.add(new IndexEntry(v.name(), v.version(), ready ? "READY" : "UNAVAILABLE",
                        ready ? "" : failure != null ? failure : "unloaded"));
            }
        }
        for (ServedModel s : now) {
            boolean listed = out.stream().anyMatch(i -> i.name().equals(s.name()) && i.version() != null
                    && i.version().equals(s.version()));
            if (!listed) {
                out.add(new IndexEntry(s.name(), s.version(), s.available() ? "READY" : "UNAVAILABLE",
                        s.available() ? "" : s.error()));
            }
        }
        return out;
    }

    /**
     * Loads a version from the repository ({@code version} null: the highest) and serves it under its name; a
     * version already served is swapped out after its requests finish. A version that fails to load changes nothing:
     * the served one keeps serving.
     */
    public synchronized ServedModel load(String name, String version) {
        requireExplicitControl("load");
        ModelRepository.Version v = repository.find(name, version).orElseThrow(() -> ClientError.unprocessable("unknown-model",
                version == null ? "no model '" + name + "' in the model repository"
                        : "no version '" + version + "' of model '" + name + "' in the model repository"));
        ServedModel fresh;
        try {
            fresh = registry.open(v.path().toString(), label(v), v.name(), v.version());
        } catch (RuntimeException e) {
            loadFailures.put(label(v), e.getMessage());
            throw ClientError.unprocessable("load-failed", "model '" + name + "' version " + v.version()
                    + " failed to load: " + e.getMessage() + (registry.serves(name) ? "; the served version stays" : ""));
        }
        loadFailures.remove(label(v));
        registry.serve(fresh);
        return fresh;
    }

    /** Stops serving a model: new requests get 404, the ones in flight finish, then its memory is freed. */
    public synchronized void unload(String name) {
        requireExplicitControl("unload");
        registry.remove(name);
    }

    private void requireExplicitControl(String what) {
        if (!explicitControl()) {
            throw ClientError.unprocessable("model-control", "models cannot be " + what + "ed: "
                    + (repository == null ? "glow.model-repository is not set" : "glow.model-control is none")
                    + " (glow.model-repository=DIR with glow.model-control=explicit allows it)");
        }
    }
}
