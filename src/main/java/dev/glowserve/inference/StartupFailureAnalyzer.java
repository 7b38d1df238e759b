package dev.glowserve.inference;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Turns a model or device failure at start-up into one clear line instead of a stack trace:
 * a model that will not load, or {@code glow.device=gpu} where there is none.
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
        }
        return null;
    }
}
