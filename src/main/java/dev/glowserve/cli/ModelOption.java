package dev.glowserve.cli;

import dev.glowserve.runtime.Lanes;
import dev.glowserve.runtime.ModelLoader;
import dev.glowserve.runtime.ModelRunner;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The --model and --device options, and how the model runs, shared by the commands that load a model. */
public final class ModelOption {

    @Option(names = "--model", paramLabel = "DIR",
            description = "Model folder (manifest.json + weights.safetensors) or classpath:DIR. Default: ${DEFAULT-VALUE}")
    String model = ModelLoader.DEFAULT_MODEL;

    @Option(names = "--device", description = "auto, cpu, gpu or gpu:N. Default: ${DEFAULT-VALUE}")
    String device = "auto";

    @Mixin
    InferenceOptions inference = new InferenceOptions();

    /** The model, running batches of 32 images and more as chunks on one single-threaded lane per core ({@link Lanes}). */
    public ModelRunner open(int chunkSize) {
        inference.tuneAllocator();
        return ModelLoader.open(model, device, inference.settings(), b -> b.chunkSize(chunkSize).lanes(Lanes.perCore(b.device())));
    }
}
