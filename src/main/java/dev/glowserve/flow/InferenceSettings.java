package dev.glowserve.flow;

/**
 * How a model's inference runs, chosen once when it is loaded ({@code glow.inference.*}, or the command line's
 * flags): {@code script} runs each pass as one TorchScript call ({@link ScriptedPass}) instead of the eager layers
 * ({@link EagerPass}); {@code prepack} lets that call use oneDNN's prepacked kernels on CPU in float32;
 * {@code tuning} says where its routes come from: {@code auto} (measured on the host at load, {@link RouteTuner},
 * and cached), {@code off} (the untuned table, {@link InferenceRoutes#of}) or a file a tuning wrote.
 */
public record InferenceSettings(boolean script, boolean prepack, String tuning) {

    public static final String AUTO = "auto";
    public static final String OFF = "off";

    /** What the service and the commands run by default: routes measured on the host. */
    public static final InferenceSettings TUNED = new InferenceSettings(true, true, AUTO);

    /** The untuned scripted pass, the same on every host (tests compare against it). */
    public static final InferenceSettings DEFAULT = new InferenceSettings(true, true, OFF);

    /** The eager layers: the reference the scripted pass is tested against. */
    public static final InferenceSettings EAGER = new InferenceSettings(false, false, OFF);

    public InferenceSettings {
        if (tuning == null || tuning.isBlank()) {
            tuning = AUTO;
        }
    }

    /** Untuned: the table {@link InferenceRoutes#of} gives. */
    public InferenceSettings(boolean script, boolean prepack) {
        this(script, prepack, OFF);
    }

    /** Whether routes are measured (or read from a file): only the scripted pass has routes to choose. */
    public boolean tuned() {
        return script && !OFF.equals(tuning);
    }
}
