package dev.glowserve.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.ArtifactSource;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.bench.FlopCount;
import dev.glowserve.bench.FmaPeak;
import dev.glowserve.bench.InferenceBench;
import dev.glowserve.bench.TrainBench;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.flow.Pass;
import dev.glowserve.runtime.AtenCapability;
import dev.glowserve.runtime.Devices;
import dev.glowserve.runtime.KernelCheck;
import dev.glowserve.runtime.Lanes;
import dev.glowserve.runtime.ModelLoader;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.runtime.Workers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Encode and sample throughput against two ceilings measured in the same run, on a noisy shared machine: this
 * CPU's float32 FMA peak ({@link FmaPeak}, before and after the rows) and a 2048² float32 matMul (libtorch's MKL,
 * right before and after each row), which reaches well under the FMA peak itself.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmark encode and sample throughput (img/s, GFLOP/s) at several batch sizes against "
                + "this CPU's FMA peak and a 2048² float32 matMul, both measured in the same run.",
                "Default model: K=16, L=2, hidden=256, 1×28×28 (2.78 M parameters), random weights."})
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--batches", split = ",", description = "Batch sizes. Default: ${DEFAULT-VALUE}")
    int[] batches = {1, 16, 64, 256};

    @picocli.CommandLine.Mixin
    ArchitectureOptions architecture = new ArchitectureOptions();

    @Option(names = "--seconds", description = "Seconds per measurement. Default: ${DEFAULT-VALUE}")
    double seconds = 2;

    @Option(names = "--isa", paramLabel = "avx2|native", description = "Run the benchmark in a fresh JVM on this "
            + "instruction set's kernels: avx2 caps oneDNN, MKL and ATen at AVX2 (ONEDNN_MAX_CPU_ISA, "
            + "MKL_ENABLE_INSTRUCTIONS, ATEN_CPU_CAPABILITY), native lifts every cap, the kernel check's included "
            + "(on a CPU whose widest kernels it measured wrong, the answers are then wrong too). Default: the kernel "
            + "check's choice")
    String isa;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--passes", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Also time the eager layers, the script and the script with prepacked kernels (untuned) at "
                    + "every batch, beside the chosen pass. Default: ${DEFAULT-VALUE}")
    boolean passes = true;

    @Option(names = "--chunk", description = "Largest batch run as one pass (bigger batches go in chunks). Default: ${DEFAULT-VALUE}")
    int chunk = 64;

    @Option(names = "--workers", description = "Threads that split each batch and run the parts side by side, each pass "
            + "with cores/workers intra-op threads, as the server's batching workers (and the trainer's workers) do. "
            + "Default: 1; with --train one per core")
    Integer workersOption;

    @Option(names = "--lanes", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "With one worker, run batches of 32 and more as chunks of 16 on one single-threaded lane per core, "
                    + "as the score and sample commands do (--no-lanes: every batch as one pass on all threads). Default: ${DEFAULT-VALUE}")
    boolean lanesOption = true;

    @Option(names = "--device", description = "auto, cpu, gpu or gpu:N. Default: ${DEFAULT-VALUE}")
    String device = "auto";

    @picocli.CommandLine.Mixin
    InferenceOptions inference = new InferenceOptions();

    @Option(names = "--model", paramLabel = "DIR", description = "Benchmark this artifact (folder or classpath:DIR) "
            + "instead of a random model of the -K/-L/--hidden architecture")
    String model;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the rows as JSON")
    java.nio.file.Path json;

    @Option(names = "--train", description = "Benchmark training instead: step throughput at batch 64, then the reference "
            + "and the default schedule for --minutes each, side by side, scored on the full test set")
    boolean train;

    @Option(names = "--minutes", description = "With --train: minutes per schedule (0 = throughput only). Default: ${DEFAULT-VALUE}")
    double minutes = 12;

    @Option(names = "--train-steps", description = "With --train: steps timed for the throughput. Default: ${DEFAULT-VALUE}")
    int trainSteps = 15;

    @Option(names = "--logdet", description = "Benchmark the 1x1 convolution's linear algebra instead: log|det W| and W⁻¹ from "
            + "the LU factors against libtorch's general slogdet and inverse, for 4 to 512 channels (--plot FILE: as PNG)")
    boolean logdet;

    @Option(names = "--plot", paramLabel = "FILE", description = "With --logdet: the times against channels as PNG")
    java.nio.file.Path plot;

    /** This benchmark again in a child JVM whose environment sets the kernels ({@code --isa}); its exit code. */
    private int runWithIsa() throws java.io.IOException {
        Map<String, String> environment = switch (isa.toLowerCase(Locale.ROOT)) {
            case "avx2" -> KernelCheck.AVX2_CAPS;
            case "native" -> Map.of(KernelCheck.MAX_ISA, "ALL");
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--isa takes avx2 or native");
        };
        List<String> args = new ArrayList<>();
        List<String> original = spec.commandLine().getParseResult().originalArgs();
        for (int i = 0; i < original.size(); i++) {
            String a = original.get(i);
            if (a.equals("--isa")) {
                i++;
            } else if (!a.startsWith("--isa=") && !(i == 0 && a.equals("bench"))) {
                args.add(a);
            }
        }
        List<String> command = KernelCheck.childCommand(List.of(), "bench", GlowServe.class.getName());
        if (!command.contains("-jar")) {
            command.add("bench");
        }
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
        for (String v : KernelCheck.CAP_VARIABLES) {
            builder.environment().remove(v);
        }
        builder.environment().putAll(environment);
        System.out.println("isa " + isa + ": " + environment);
        System.out.flush();
        try {
            return builder.start().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    @Override
    public Integer call() throws java.io.IOException {
        CliLogging.toStderr();
        if (isa != null) {
            return runWithIsa();
        }
        if (workersOption != null && workersOption < 1) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--workers must be at least 1");
        }
        if (logdet) {
            List<dev.glowserve.bench.LogDetCost.Row> rows = dev.glowserve.bench.LogDetCost.measure(
                    new int[] {4, 8, 16, 32, 64, 128, 256, 512}, seconds);
            dev.glowserve.bench.LogDetCost.print(rows);
            if (plot != null) {
                dev.glowserve.bench.LogDetCost.plot(rows, plot);
            }
            if (json != null) {
                java.nio.file.Files.write(json, dev.glowserve.artifact.ModelArtifact.JSON.writeValueAsBytes(rows));
            }
            return 0;
        }
        if (train) {
            Workers.configureForWorkers(workersOption == null ? 0 : workersOption); // before the engine starts
            TrainBench.report(architecture.flows, architecture.levels, architecture.hidden, trainSteps, minutes);
            return 0;
        }
        int workers = workersOption == null ? 1 : workersOption;
        if (workers > 1) { // before the engine starts: the threads of each pass
            Workers.splitCores(workers);
        }
        inference.tuneAllocator();
        Device d = Devices.select(device);
        Lanes lanes = workers == 1 && lanesOption ? Lanes.perCore(d) : null;
        try (ModelRunner runner = model != null
                ? ModelLoader.open(ArtifactSource.parse(model), d, inference.settings(), ModelArtifact.DEFAULT_MAX_MODEL_BYTES,
                        b -> b.chunkSize(chunk).lanes(lanes))
                : randomModel(GlowConfig.of(1, 28, 28, architecture.flows, architecture.levels, architecture.hidden), d,
                        inference.settings(), lanes);
                InferenceBench bench = new InferenceBench(runner, seconds, workers, lanes, passes)) {
            GlowConfig config = runner.config();
            double flops = FlopCount.perImage(config);
            String threads = System.getProperty("ai.djl.pytorch.num_threads");
            System.out.printf(Locale.ROOT, "glow-serve bench: %s K=%d L=%d hidden=%d %dx%dx%d on %s, %s pass, %s%n",
                    model != null ? model : "random model", config.flowsPerLevel(), config.levels(), config.hiddenChannels(),
                    config.inChannels(), config.height(), config.width(), Devices.describe(d), runner.inferencePass(),
                    lanes != null
                            ? String.format(Locale.ROOT, "batches below %d as one pass on %s threads, larger ones in chunks of %d on %d single-threaded lanes",
                                    2 * Lanes.CHUNK, threads, Lanes.CHUNK, lanes.count())
                            : String.format(Locale.ROOT, "%s threads per pass, %d worker(s)", threads, workers));
            System.out.println("kernels: " + KernelCheck.verdict() + "; ATen's kernels: " + AtenCapability.get());
            System.out.println("routes: " + runner.routes());
            System.out.printf(Locale.ROOT, "parameters: %,d   FLOPs per image (counted): %.1f MFLOP%n",
                    runner.glow().parameters().trainableCount(), flops / 1e6);
            double peakBefore = FmaPeak.measure();
            bench.warmUp();
            List<InferenceBench.Row> rows = new ArrayList<>();
            for (int b : batches) {
                rows.add(bench.measure(b));
            }
            double fmaPeak = Math.max(peakBefore, FmaPeak.measure());
            System.out.printf(Locale.ROOT, "FMA peak: %.1f GFLOP/s (the Vector API's widest species, 12 chains a thread, "
                    + "one thread per core; the larger of before and after the rows)%n", fmaPeak);
            InferenceBench.print(rows, flops, fmaPeak);
            if (bench.comparesPasses()) {
                InferenceBench.printPasses(rows);
            }
            if (workers > 1 || lanes != null) {
                System.out.println("ceiling: the larger of one matMul on all threads and " + (lanes != null ? lanes.count() : workers)
                        + " matMuls side by side" + (lanes != null ? " on the lanes" : "") + " (their GFLOP/s summed)");
            }
            if (json != null) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("flops_per_image", flops);
                out.put("fma_peak_gflops", fmaPeak);
                out.put("rows", rows);
                Files.write(json, ModelArtifact.JSON.writeValueAsBytes(out));
            }
        }
        return 0;
    }

    /** A random model with ActNorm initialised from random data, as in training. */
    ModelRunner randomModel(GlowConfig config, Device device, InferenceSettings settings, Lanes lanes) {
        Glow glow = Glow.create(config, NDManager.newBaseManager(device), DataType.FLOAT32, 42);
        try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            NDArray x = m.randomUniform(-0.5f, 0.5f, new Shape(64, config.inChannels(), config.height(), config.width()));
            glow.encode(x, null, Pass.DATA_INIT);
        }
        glow.parameters().markUpdated();
        Manifest manifest = new Manifest("bench", "1", Architecture.of(config), 8, "random", null, null, null, null);
        return ModelRunner.builder(manifest, glow).chunkSize(chunk).lanes(lanes).inference(settings).build();
    }
}
