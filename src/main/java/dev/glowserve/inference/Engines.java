package dev.glowserve.inference;

/**
 * Engine settings that must be in place before DJL starts: offline natives, and one intra-op
 * thread per core with a single inter-op thread (model work is serialised, see DJL-NOTES).
 */
public final class Engines {

    private Engines() {}

    public static void configureDefaults() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(Runtime.getRuntime().availableProcessors()));
        setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
        setIfAbsent("java.awt.headless", "true");
        // eager ops only: the TorchScript graph optimizer would only add start-up work
        setIfAbsent("ai.djl.pytorch.graph_optimizer", "false");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
