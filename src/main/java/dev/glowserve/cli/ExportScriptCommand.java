package dev.glowserve.cli;

import ai.djl.Device;
import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.flow.ScriptExport;
import dev.glowserve.runtime.ModelLoader;
import dev.glowserve.runtime.ModelRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Writes the scripted pass for another runtime: its archive, its bound arguments, and a few images with the bits/dim
 * this service gives them on CPU, so that the other runtime's answers can be checked against it
 * ({@code bench/gpu_script.py} runs them on CUDA).
 */
@Command(name = "export-script", mixinStandardHelpOptions = true,
        description = {"Write a model's TorchScript inference pass with its bound weights (GlowInference.pt, "
                + "arguments.safetensors, arguments.json) and test images with their bits/dim on this CPU, for running "
                + "the pass on another runtime (bench/gpu_script.py: CUDA PyTorch)."})
public final class ExportScriptCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR", description = "Model folder or classpath:DIR. Default: ${DEFAULT-VALUE}")
    String model = ModelLoader.DEFAULT_MODEL;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "Folder to write into")
    Path out;

    @Option(names = "--images", description = "Test images (the model's samples) written with their bits/dim. Default: ${DEFAULT-VALUE}")
    int images = 64;

    @Override
    public Integer call() throws Exception {
        if (images < 1 || images > 4096) {
            throw new IllegalArgumentException("--images must be 1..4096");
        }
        try (ModelRunner runner = ModelLoader.open(model, Device.cpu(), 64, InferenceSettings.DEFAULT)) {
            // the model's own samples (temperature 0.7): images it finds likely, so the decode round trip is a fair test
            int classes = runner.config().numClasses();
            int[] labels = classes > 0 ? new int[images] : null;
            for (int i = 0; labels != null && i < images; i++) {
                labels[i] = i % classes;
            }
            List<byte[]> pixels = runner.sample(images, 0.7, 7, labels);
            List<ModelRunner.Encoded> encoded = runner.encode(pixels, labels);
            List<Double> bitsPerDim = new ArrayList<>();
            for (ModelRunner.Encoded e : encoded) {
                bitsPerDim.add(e.score().bitsPerDim());
            }
            List<List<Integer>> imageValues = new ArrayList<>();
            for (byte[] p : pixels) {
                List<Integer> v = new ArrayList<>(p.length);
                for (byte b : p) {
                    v.add(b & 0xff);
                }
                imageValues.add(v);
            }
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put("model", runner.name() + " " + runner.version());
            extra.put("shape", List.of(runner.config().inChannels(), runner.config().height(), runner.config().width()));
            extra.put("n_bits", runner.manifest().bits());
            extra.put("images", imageValues);
            extra.put("labels", labels == null ? List.of() : java.util.Arrays.stream(labels).boxed().toList());
            extra.put("cpu_bits_per_dim", bitsPerDim);
            extra.put("cpu_pass", runner.inferencePass());
            ScriptExport.write(runner.glow(), out, extra);
            System.out.printf("wrote %s: GlowInference.pt, arguments.safetensors, arguments.json (%d images, mean %.4f bits/dim on CPU)%n",
                    out, images, bitsPerDim.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN));
        }
        return 0;
    }
}
