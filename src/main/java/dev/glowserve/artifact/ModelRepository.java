package dev.glowserve.artifact;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A folder of models, Triton's layout: {@code DIR/{name}/{version}/manifest.json + weights.safetensors} (+ class
 * means), versions positive integers, the highest the default. Read afresh on every call, so a version copied in
 * while the service runs can be loaded.
 */
public final class ModelRepository {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern VERSION = Pattern.compile("[1-9][0-9]{0,17}");

    /** A model version in the repository. */
    public record Version(String name, String version, Path path) {}

    private final Path root;

    public ModelRepository(Path root) {
        this.root = root;
    }

    /** Whether a name can be a model's folder in a repository. */
    public static boolean isValidName(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    public Path root() {
        return root;
    }

    /** Every model version in the repository, by name then version (numerically). */
    public List<Version> versions() {
        List<Version> out = new ArrayList<>();
        for (Path model : children(root)) {
            String name = model.getFileName().toString();
            if (NAME.matcher(name).matches()) {
                out.addAll(versionsOf(name));
            }
        }
        return out;
    }

    /** The model's versions, lowest first; empty if the repository has no such model. */
    public List<Version> versionsOf(String name) {
        if (!NAME.matcher(name).matches()) {
            return List.of();
        }
        Path model = root.resolve(name);
        List<Version> out = new ArrayList<>();
        for (Path v : children(model)) {
            String version = v.getFileName().toString();
            if (VERSION.matcher(version).matches() && Files.isRegularFile(v.resolve("manifest.json"))) {
                out.add(new Version(name, version, v));
            }
        }
        out.sort(Comparator.comparingLong(v -> Long.parseLong(v.version())));
        return out;
    }

    /** A version of a model ({@code version} null: the highest). */
    public Optional<Version> find(String name, String version) {
        List<Version> all = versionsOf(name);
        if (version == null) {
            return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
        }
        return all.stream().filter(v -> v.version().equals(version)).findFirst();
    }

    private static List<Path> children(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the model repository " + dir, e);
        }
    }
}
