package dev.glowserve.cli;

import ai.djl.engine.Engine;
import dev.glowserve.runtime.Devices;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/**
 * Starts the engine and says what it found: version, GPUs, threads, and the device a setting
 * selects. Container builds run it once to unpack (CPU) or fetch (CUDA) the native libraries.
 */
@Command(name = "engine", mixinStandardHelpOptions = true,
        description = "Start the PyTorch engine and print what it found (version, GPUs, threads, selected device).")
public final class EngineCommand implements Callable<Integer> {

    @Option(names = "--device", description = "Device setting to resolve: auto, cpu, gpu or gpu:N. Default: ${DEFAULT-VALUE}")
    String device = "auto";

    @Override
    public Integer call() {
        CliLogging.toStderr();
        Engine engine = Engine.getInstance();
        System.out.printf("engine: %s %s%n", engine.getEngineName(), engine.getVersion());
        System.out.printf("gpus: %d%n", engine.getGpuCount());
        System.out.printf("threads: %s intra-op, %s inter-op%n", System.getProperty("ai.djl.pytorch.num_threads"),
                System.getProperty("ai.djl.pytorch.num_interop_threads"));
        System.out.println("kernels: " + dev.glowserve.runtime.KernelCheck.verdict());
        System.out.println("ATen kernels: " + dev.glowserve.runtime.AtenCapability.get());
        System.out.printf("device: %s (glow.device=%s)%n", Devices.describe(Devices.select(device)), device);
        return 0;
    }
}
