package dev.glowserve.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.ArtifactSource;
import dev.glowserve.artifact.Calibration;
import dev.glowserve.artifact.ClassMeans;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.artifact.ModelRepository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Lays a model folder (or the shipped model) out as a version of a Triton-layout repository, {@code REPO/name/version},
 * after loading it once to prove it loads; the version appears whole or not at all, so a running service never sees
 * half of it.
 */
@Command(name = "repository", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Add a model to a model repository (glow.model-repository) as REPO/NAME/VERSION.")
public final class RepositoryCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR",
            description = "A model folder, or classpath:models/fashion-mnist (the shipped model). Default: ${DEFAULT-VALUE}")
    String model = "classpath:models/fashion-mnist";

    @Option(names = "--repo", paramLabel = "DIR", required = true, description = "The repository folder (made if missing)")
    Path repo;

    @Option(names = "--name", description = "The model's name in the repository. Default: the manifest's name")
    String name;

    @Option(names = "--model-version", paramLabel = "N",
            description = "A positive integer, not yet in the repository. Default: one above the model's highest")
    Long version;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        ArtifactSource source = ArtifactSource.parse(model);
        Manifest manifest = ModelArtifact.readManifest(source);
        String modelName = name != null ? name : manifest.name();
        if (!ModelRepository.isValidName(modelName)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "'" + modelName
                    + "' is not a repository model name (letters, digits, '.', '_' and '-', starting with a letter or digit)");
        }
        ModelRepository repository = new ModelRepository(repo);
        List<ModelRepository.Version> versions = repository.versionsOf(modelName);
        long next = version != null ? version
                : versions.isEmpty() ? 1 : Long.parseLong(versions.get(versions.size() - 1).version()) + 1;
        if (next < 1 || versions.stream().anyMatch(v -> v.version().equals(Long.toString(next)))) {
            throw new CommandLine.ParameterException(spec.commandLine(), "version " + next + " of '" + modelName
                    + "' is " + (next < 1 ? "not a positive integer" : "in the repository already"));
        }
        try (ModelArtifact.Loaded ignored = ModelArtifact.load(source, NDManager.newBaseManager(), DataType.FLOAT32)) {
            // it loads: worth serving
        }
        Path modelDir = Files.createDirectories(repo.resolve(modelName));
        Path staging = Files.createTempDirectory(modelDir, ".adding-");
        try {
            for (String file : List.of(ModelArtifact.MANIFEST, ModelArtifact.WEIGHTS, ClassMeans.FILE, Calibration.FILE)) {
                try (InputStream in = source.open(file)) {
                    Files.copy(in, staging.resolve(file));
                } catch (NoSuchFileException e) {
                    if (file.equals(ModelArtifact.MANIFEST) || file.equals(ModelArtifact.WEIGHTS)) {
                        throw e;
                    }
                }
            }
            Path target = modelDir.resolve(Long.toString(next));
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            System.out.printf("model '%s' version %d: %s%n", modelName, next, target);
        } catch (IOException | RuntimeException e) {
            try (var left = Files.walk(staging)) {
                left.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
            throw e;
        }
        return 0;
    }
}
