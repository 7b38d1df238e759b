package dev.glowserve.serving;

import ai.djl.engine.EngineException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

import java.nio.file.FileSystemException;

/**
 * Turns a start-up failure an operator can fix into one clear line instead of a stack trace: a model
 * that will not load, {@code glow.device=gpu} where there is none, or a file the process could not
 * write (a read-only root without the chart's writable mounts, natives not prepared in the image).
 */
public class StartupFailureAnalyzer extends AbstractFailureAnalyzer<RuntimeException> {

    @Override
    protected FailureAnalysis analyze(Throwable root, RuntimeException cause) {
        for (Throwable t = root; t != null; t = t.getCause()) {
            if (t instanceof ModelRegistry.ModelLoadException e) {
                return new FailureAnalysis(e.getMessage(), "Fix the model artifact or glow.models[*].path.", e);
            }
            if (t instanceof IllegalStateException e && e.getMessage() != null && e.getMessage().startsWith("glow.device=")) {
                return new FailureAnalysis(e.getMessage(), "Set glow.device=cpu (or auto), or run where a GPU is visible.", e);
            }
            if (t instanceof IllegalArgumentException e && e.getMessage() != null && e.getMessage().startsWith("glow.device=")) {
                return new FailureAnalysis(e.getMessage(), "Use auto, cpu, gpu or gpu:N.", e);
            }
            if (t instanceof FileSystemException e) {
                return fileSystem(e, causedByEngine(root));
            }
        }
        return null;
    }

    private static FailureAnalysis fileSystem(FileSystemException e, boolean natives) {
        String reason = e.getReason() != null ? e.getReason()
                : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : e.getClass().getSimpleName();
        if (natives) {
            return new FailureAnalysis("PyTorch's native libraries are not in place: could not write " + e.getFile() + " ("
                    + reason + ") to unpack them into ENGINE_CACHE_DIR=" + ai.djl.util.Utils.getEngineCacheDir(),
                    "Use an image whose natives were prepared at build time (see the Dockerfile), or point ENGINE_CACHE_DIR "
                            + "at a writable folder.", e);
        }
        return new FailureAnalysis("could not write " + e.getFile() + " (" + reason + ")",
                "Mount a writable volume there (the Helm chart mounts emptyDirs at /tmp and /var/cache/djl), or point "
                        + "java.io.tmpdir at a writable folder.", e);
    }

    private static boolean causedByEngine(Throwable root) {
        for (Throwable t = root; t != null; t = t.getCause()) {
            if (t instanceof EngineException) {
                return true;
            }
        }
        return false;
    }
}
