package dev.glowserve.flow;

/**
 * How a model's inference runs, chosen once when it is loaded ({@code glow.inference.*}, or the command line's
 * flags): {@code script} runs each pass as one TorchScript call ({@link ScriptedPass}) instead of the eager layers
 * ({@link EagerPass}); {@code prepack} lets that call use oneDNN's prepacked kernels on CPU in float32.
 */
public record InferenceSettings(boolean script, boolean prepack) {

    /** What the service runs by default. */
    public static final InferenceSettings DEFAULT = new InferenceSettings(true, true);

    /** The eager layers: the reference the scripted pass is tested against. */
    public static final InferenceSettings EAGER = new InferenceSettings(false, false);
}
