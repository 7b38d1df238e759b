package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * The one inference contract of an initialized model: images to latents and scores, latents back to images
 * (docs/DESIGN.md). Two passes keep it, with the same results to rounding and each with the same bits for an image
 * alone and inside any batch: {@link ScriptedPass}, which serves, and {@link EagerPass}, the readable reference.
 * Tensors come back in the input's scope, as {@link Glow}'s do.
 */
public interface InferencePass extends AutoCloseable {

    /** x (B, C, H, W) → latents and log-densities; {@code labels} (B) are required for class-conditional models. */
    Encoding encode(NDArray x, int[] labels);

    /** A class-conditional model's encoding when the class is unknown (see {@link Marginal}). */
    Marginal encodeMarginal(NDArray x);

    /** eps per level (B, C_l, H_l, W_l) → x; the exact inverse of {@link #encode}. */
    NDArray decode(List<NDArray> eps, int[] labels);

    /** Raw z per level (as {@link Encoding#z()}) → x, with no standardisation. */
    NDArray decodeZ(List<NDArray> z);

    /** What runs: {@code torchscript+onednn}, {@code torchscript}, {@code eager}, or {@code eager (...)} with the reason. */
    String name();

    /** Frees what the pass bound; the model itself stays open. */
    @Override
    void close();

    /**
     * The pass {@code settings} ask for on this model. A libtorch that cannot compile or bind the TorchScript pass
     * (one built without oneDNN, say) leaves inference on the eager layers, with one warning giving libtorch's reason.
     */
    static InferencePass open(Glow glow, InferenceSettings settings) {
        return open(glow, settings, GlowScript.shippedSource());
    }

    /** As {@link #open(Glow, InferenceSettings)}, compiling {@code scriptSource} (class GlowInference). */
    static InferencePass open(Glow glow, InferenceSettings settings, String scriptSource) {
        boolean prepacked = settings.prepack() && ScriptedPass.canPrepack(glow);
        return open(glow, settings.script(), () -> InferenceRoutes.of(glow.config(), prepacked), scriptSource);
    }

    /**
     * The scripted pass on {@code routes} ({@code script} false: the eager layers), as a tuning chose; a libtorch
     * that cannot run the script leaves inference on the eager layers, as {@link #open(Glow, InferenceSettings)} does.
     */
    static InferencePass open(Glow glow, boolean script, InferenceRoutes routes) {
        return open(glow, script, () -> routes, GlowScript.shippedSource());
    }

    private static InferencePass open(Glow glow, boolean script, java.util.function.Supplier<InferenceRoutes> routes,
            String scriptSource) {
        if (!script || !glow.initialized() || !"PyTorch".equals(glow.manager().getEngine().getEngineName())) {
            return new EagerPass(glow, null);
        }
        try {
            return new ScriptedPass(glow, routes.get(), ScriptedPass.compile(glow, scriptSource));
        } catch (RuntimeException e) {
            String reason = libtorchReason(e);
            Logger log = LoggerFactory.getLogger(InferencePass.class);
            log.warn("TorchScript inference pass unavailable on this libtorch, inference runs on the eager layers "
                    + "(slower, same results to rounding): {}", reason);
            log.debug("TorchScript pass failure", e);
            return new EagerPass(glow, reason);
        }
    }

    /** The shipped TorchScript source of the scripted pass. */
    static String scriptSource() {
        return GlowScript.shippedSource();
    }

    /**
     * One line from libtorch's multi-line message: the compiler's first line (e.g. "Unknown builtin op: ...") or,
     * for an error raised while running, its last line (the error, after the script's traceback).
     */
    private static String libtorchReason(RuntimeException e) {
        List<String> lines = String.valueOf(e.getMessage()).lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        if (lines.isEmpty()) {
            return e.getClass().getSimpleName();
        }
        boolean raised = lines.get(0).startsWith("The following operation failed in the TorchScript interpreter");
        return raised ? lines.get(lines.size() - 1) : lines.get(0);
    }
}
