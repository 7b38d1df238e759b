package dev.glowserve.cli;

import dev.glowserve.data.Png;
import dev.glowserve.flow.Latents;
import dev.glowserve.runtime.ModelRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** Writes a PNG grid of samples. */
@Command(name = "sample", mixinStandardHelpOptions = true, description = "Draw samples and write them as one PNG grid.")
public final class SampleCommand implements Callable<Integer> {

    @Mixin
    ModelOption model;

    @Option(names = "--n", description = "Number of samples. Default: ${DEFAULT-VALUE}")
    int n = 64;

    @Option(names = "--temperature", description = "Standard deviation of the latent noise (0 = prior mean). Default: ${DEFAULT-VALUE}")
    double temperature = 0.7;

    @Option(names = "--seed", description = "Random seed: the same seed gives the same images. Default: ${DEFAULT-VALUE}")
    long seed = 1;

    @Option(names = "--class", paramLabel = "K", description = "Class-conditional models: sample class K (default: random classes)")
    Integer cls;

    @Option(names = "--columns", description = "Images per row. Default: square grid")
    Integer columns;

    @Option(names = "--out", required = true, description = "Output PNG file")
    Path out;

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        if (n < 1 || n > 4096) {
            throw new IllegalArgumentException("--n must be 1..4096");
        }
        if (!(temperature >= 0) || temperature > 10) {
            throw new IllegalArgumentException("--temperature must be 0..10");
        }
        try (ModelRunner runner = model.open(64)) {
            int[] labels = Latents.sampleLabels(runner.config(), n, cls, seed);
            List<byte[]> images = runner.sample(n, temperature, seed, labels);
            int cols = columns != null ? columns : (int) Math.ceil(Math.sqrt(n));
            var c = runner.config();
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.write(out, Png.grid(images, c.inChannels(), c.height(), c.width(), cols, 1));
            System.out.println("wrote " + n + " samples (T=" + temperature + ", seed " + seed + ") to " + out);
        }
        return 0;
    }
}
