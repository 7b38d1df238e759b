package dev.glowserve.cli;

import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.runtime.NativeAllocator;
import picocli.CommandLine.Option;

/** The command line's form of {@code glow.inference.*}: how a loaded model runs. */
public final class InferenceOptions {

    @Option(names = "--script", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Run each pass as one TorchScript call (--no-script: the eager layers). Default: ${DEFAULT-VALUE}")
    boolean script = true;

    @Option(names = "--prepack", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Let the TorchScript pass use oneDNN's prepacked kernels on CPU in float32. Default: ${DEFAULT-VALUE}")
    boolean prepack = true;

    @Option(names = "--tuning", paramLabel = "auto|off|FILE", description = "Where the pass's routes come from: measured on "
            + "this host at load and cached (auto), the untuned table (off), or a tuning file. Default: ${DEFAULT-VALUE}")
    String tuning = InferenceSettings.AUTO;

    @Option(names = "--malloc-tuning", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Have glibc keep freed tensor memory instead of unmapping it. Default: ${DEFAULT-VALUE}")
    boolean mallocTuning = true;

    InferenceSettings settings() {
        return new InferenceSettings(script, prepack, tuning);
    }

    /** Before the first model loads. */
    void tuneAllocator() {
        NativeAllocator.tune(mallocTuning);
    }
}
