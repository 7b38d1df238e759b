package dev.glowserve.cli;

/**
 * Engine settings that must be in place before DJL starts: offline natives, intra-op threads per
 * pass, a single inter-op thread (parallelism comes from batches and batching workers), and the
 * C allocator's settings ({@link NativeAllocator}).
 */
public final class Engines {

    private Engines() {}

    /**
     * @param serving leave one core to the web layer: one intra-op thread per pass served more images/s and at
     *     lower latency than passes competing with Tomcat and PNG encoding for every core
     */
    public static void configureDefaults(boolean serving) {
        int cores = Runtime.getRuntime().availableProcessors();
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(serving ? Math.max(1, cores - 1) : cores));
        setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
        setIfAbsent("java.awt.headless", "true");
        // DJL's switch for its own TorchScript blocks (none here; it also silences DJL's start-up note):
        // the model's TorchScript pass turns the optimizer off on its calling thread itself
        setIfAbsent("ai.djl.pytorch.graph_optimizer", "false");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
