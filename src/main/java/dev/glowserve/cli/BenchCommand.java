package dev.glowserve.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.bench.FlopCount;
import dev.glowserve.bench.FmaPeak;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.flow.Latents;
import dev.glowserve.flow.Pass;
import dev.glowserve.runtime.Devices;
import dev.glowserve.runtime.Lanes;
import dev.glowserve.runtime.ModelLoader;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.runtime.Workers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;

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

    private int workers = 1;

    @Option(names = "--lanes", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "With one worker, run batches of 32 and more as chunks of 16 on one single-threaded lane per core, "
                    + "as the score and sample commands do (--no-lanes: every batch as one pass on all threads). Default: ${DEFAULT-VALUE}")
    boolean lanesOption = true;

    private Lanes lanes;

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

    /** One row of the results; {@code fallbacks}: encode and sample img/s of the eager, script and prepacked passes. */
    record Row(int batch, double encodeImgPerSec, double encodeMsPerBatch, double sampleImgPerSec, double sampleMsPerBatch,
            double ceiling, java.util.Map<String, double[]> fallbacks) {}

    /** The passes the chosen one is held against, in the same run. */
    private static final java.util.Map<String, InferenceSettings> FALLBACKS = java.util.Map.of(
            "eager", InferenceSettings.EAGER, "script", new InferenceSettings(true, false, InferenceSettings.OFF),
            "script+prepack", InferenceSettings.DEFAULT);
    private static final List<String> FALLBACK_ORDER = List.of("eager", "script", "script+prepack");
    private final java.util.Map<String, ModelRunner> fallbackRunners = new java.util.LinkedHashMap<>();

    /** This benchmark again in a child JVM whose environment sets the kernels ({@code --isa}); its exit code. */
    private int runWithIsa() throws java.io.IOException {
        java.util.Map<String, String> environment = switch (isa.toLowerCase(Locale.ROOT)) {
            case "avx2" -> dev.glowserve.runtime.KernelCheck.AVX2_CAPS;
            case "native" -> java.util.Map.of(dev.glowserve.runtime.KernelCheck.MAX_ISA, "ALL");
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
        List<String> command = dev.glowserve.runtime.KernelCheck.childCommand(List.of(), "bench", GlowServe.class.getName());
        if (!command.contains("-jar")) {
            command.add("bench");
        }
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
        for (String v : dev.glowserve.runtime.KernelCheck.CAP_VARIABLES) {
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
        if (train) {
            dev.glowserve.runtime.Workers.configureForWorkers(workersOption == null ? 0 : workersOption); // before the engine starts
            return trainBench();
        }
        workers = workersOption == null ? 1 : workersOption;
        if (workers > 1) { // before the engine starts: the threads of each pass
            Workers.splitCores(workers);
        }
        pool = java.util.concurrent.Executors.newFixedThreadPool(workers);
        inference.tuneAllocator();
        Device d = Devices.select(device);
        lanes = workers == 1 && lanesOption ? Lanes.perCore(d) : null;
        try (ModelRunner runner = model != null
                ? ModelLoader.open(dev.glowserve.artifact.ModelArtifact.Source.parse(model), d, inference.settings(),
                        dev.glowserve.artifact.ModelArtifact.DEFAULT_MAX_MODEL_BYTES,
                        b -> b.chunkSize(chunk).lanes(lanes))
                : randomModel(GlowConfig.of(1, 28, 28, architecture.flows, architecture.levels, architecture.hidden), d,
                        inference.settings())) {
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
            System.out.println("kernels: " + dev.glowserve.runtime.KernelCheck.verdict() + "; ATen's kernels: "
                    + dev.glowserve.runtime.AtenCapability.get());
            System.out.println("routes: " + runner.routes());
            System.out.printf(Locale.ROOT, "parameters: %,d   FLOPs per image (counted): %.1f MFLOP%n",
                    runner.glow().parameters().trainableCount(), flops / 1e6);
            if (passes) {
                for (String name : FALLBACK_ORDER) {
                    fallbackRunners.put(name, runner.alongside(FALLBACKS.get(name)));
                }
            }
            double peakBefore = FmaPeak.measure();
            warmUp(runner);
            for (ModelRunner r : fallbackRunners.values()) {
                warmUp(r);
            }
            List<Row> rows = new ArrayList<>();
            for (int b : batches) {
                rows.add(measure(runner, b));
            }
            double fmaPeak = Math.max(peakBefore, FmaPeak.measure());
            System.out.printf(Locale.ROOT, "FMA peak: %.1f GFLOP/s (the Vector API's widest species, 12 chains a thread, "
                    + "one thread per core; the larger of before and after the rows)%n", fmaPeak);
            print(rows, flops, fmaPeak);
            if (passes) {
                printPasses(rows);
            }
            if (workers > 1 || lanes != null) {
                System.out.println("ceiling: the larger of one matMul on all threads and " + (lanes != null ? lanes.count() : workers)
                        + " matMuls side by side" + (lanes != null ? " on the lanes" : "") + " (their GFLOP/s summed)");
            }
            if (json != null) {
                java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
                out.put("flops_per_image", flops);
                out.put("fma_peak_gflops", fmaPeak);
                out.put("rows", rows);
                java.nio.file.Files.write(json, dev.glowserve.artifact.ModelArtifact.JSON.writeValueAsBytes(out));
            }
        } finally {
            fallbackRunners.values().forEach(ModelRunner::close);
            pool.shutdownNow();
        }
        return 0;
    }

    /** The chosen pass beside the three it must not be slower than (0.95× the best of them or better). */
    private static void printPasses(List<Row> rows) {
        System.out.println();
        System.out.println("img/s of each pass at each batch, its fastest call in " + ROUNDS + " turns taken in turn; chosen ÷ best of the other three:");
        System.out.println("| batch | encode eager | encode script | encode script+prepack | encode chosen | chosen ÷ best "
                + "| sample eager | sample script | sample script+prepack | sample chosen | chosen ÷ best |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            StringBuilder line = new StringBuilder("| " + r.batch());
            for (int op = 0; op < 2; op++) {
                double best = 0;
                for (String name : FALLBACK_ORDER) {
                    double v = r.fallbacks().get(name)[op];
                    best = Math.max(best, v);
                    line.append(String.format(Locale.ROOT, " | %.1f", v));
                }
                double chosen = op == 0 ? r.encodeImgPerSec() : r.sampleImgPerSec();
                line.append(String.format(Locale.ROOT, " | %.1f | %.2f", chosen, chosen / best));
            }
            System.out.println(line.append(" |"));
        }
    }

    private java.util.concurrent.ExecutorService pool;

    /** Encodes the batch split into {@code workers} parts, side by side. */
    private void encodeSplit(ModelRunner runner, List<byte[]> images) {
        split(images.size(), (from, to) -> runner.encode(images.subList(from, to), null));
    }

    private void sampleSplit(ModelRunner runner, int batch, long seed) {
        split(batch, (from, to) -> runner.sample(to - from, 0.7, seed * 31 + from, Latents.sampleLabels(runner.config(), to - from, null, seed * 31 + from)));
    }

    private void split(int n, java.util.function.BiConsumer<Integer, Integer> part) {
        if (workers == 1 || n < workers) {
            part.accept(0, n);
            return;
        }
        List<Callable<Void>> parts = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            int from = n * w / workers;
            int to = n * (w + 1) / workers;
            parts.add(() -> {
                part.accept(from, to);
                return null;
            });
        }
        Workers.invokeAll(pool, parts);
    }

    /** The ceiling: one matMul, and with several workers or lanes also that many side by side (summed); the larger. */
    private double ceiling() {
        double one = matmulGflops();
        List<Double> sideBySide = lanes != null ? lanes.onEach(BenchCommand::matmulGflops)
                : workers > 1 ? Workers.invokeAll(pool, java.util.Collections.nCopies(workers, BenchCommand::matmulGflops))
                : List.of();
        return Math.max(one, sideBySide.stream().mapToDouble(Double::doubleValue).sum());
    }

    private int trainBench() throws java.io.IOException {
        var trainSet = dev.glowserve.bench.TrainBench.trainSet();
        var testSet = dev.glowserve.bench.TrainBench.testSet();
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("glow-train-bench");
        workers = Workers.slots();
        String threads = System.getProperty("ai.djl.pytorch.num_threads");
        pool = java.util.concurrent.Executors.newFixedThreadPool(workers);
        System.out.printf(Locale.ROOT, "glow-serve bench --train: K=%d L=%d hidden=%d, batch 64, %d worker(s) × %s intra-op thread(s)%n",
                architecture.flows, architecture.levels, architecture.hidden, workers, threads);
        double ceiling;
        double rate;
        double ceiling2;
        try {
            ceiling = ceiling();
            rate = dev.glowserve.bench.TrainBench.medianStepImagesPerSecond(architecture.flows, architecture.levels, architecture.hidden, 64, trainSteps, trainSet, testSet,
                    dir.resolve("throughput"));
            ceiling2 = ceiling();
        } finally {
            pool.shutdownNow();
        }
        GlowConfig config = GlowConfig.of(1, 28, 28, architecture.flows, architecture.levels, architecture.hidden);
        double flops = 3 * FlopCount.perImage(config); // forward + backward ≈ 3 forward passes
        System.out.printf(Locale.ROOT, "training throughput: %.1f img/s (median of %d steps), ≈%.1f GFLOP/s, matMul ceiling %.1f GFLOP/s%n",
                rate, trainSteps, rate * flops / 1e9, Math.max(ceiling, ceiling2));
        if (minutes > 0) {
            var outcomes = dev.glowserve.bench.TrainBench.compareSchedules(architecture.flows, architecture.levels, architecture.hidden, minutes, trainSet, testSet,
                    dir.resolve("schedules"), null);
            System.out.println();
            System.out.println("| schedule | minutes | steps | img/s | test bits/dim (10,000 images) |");
            System.out.println("|---|---:|---:|---:|---:|");
            for (var o : outcomes) {
                System.out.printf(Locale.ROOT, "| %s | %.1f | %d | %.1f | %.4f |%n", o.schedule(), o.seconds() / 60, o.steps(),
                        o.imagesPerSecond(), o.testBitsPerDim());
            }
        }
        return 0;
    }

    /** A random model with ActNorm initialised from random data, as in training. */
    ModelRunner randomModel(GlowConfig config, Device device, InferenceSettings settings) {
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

    private void warmUp(ModelRunner runner) {
        List<byte[]> images = images(runner, 64, 0);
        for (int i = 0; i < 3; i++) {
            encodeSplit(runner, images);
            sampleSplit(runner, 64, i);
        }
    }

    private Row measure(ModelRunner runner, int batch) {
        List<byte[]> images = images(runner, batch, batch);
        double ceiling1 = ceiling();
        // with other passes to compare, each is timed in ROUNDS turns, taking turns, and keeps its best turn: the host's
        // drift and bursts of noise then fall on all of them alike
        int rounds = fallbackRunners.isEmpty() ? 1 : ROUNDS;
        double encodeMs = Double.MAX_VALUE;
        double sampleMs = Double.MAX_VALUE;
        java.util.Map<String, double[]> fallbacks = new java.util.LinkedHashMap<>();
        for (int round = 0; round < rounds; round++) {
            encodeMs = Math.min(encodeMs, millis(i -> encodeSplit(runner, images), rounds));
            sampleMs = Math.min(sampleMs, millis(i -> sampleSplit(runner, batch, i), rounds));
            for (var e : fallbackRunners.entrySet()) {
                ModelRunner other = e.getValue();
                double em = millis(i -> encodeSplit(other, images), rounds);
                double sm = millis(i -> sampleSplit(other, batch, i), rounds);
                double[] best = fallbacks.computeIfAbsent(e.getKey(), k -> new double[2]);
                best[0] = Math.max(best[0], batch / (em / 1e3));
                best[1] = Math.max(best[1], batch / (sm / 1e3));
            }
        }
        double ceiling2 = ceiling();
        return new Row(batch, batch / (encodeMs / 1e3), encodeMs, batch / (sampleMs / 1e3), sampleMs, Math.max(ceiling1, ceiling2),
                fallbacks);
    }

    /** n random 8-bit images of the runner's size. */
    public static List<byte[]> images(ModelRunner runner, int n, long seed) {
        Random r = new Random(seed);
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] img = new byte[runner.imageSize()];
            r.nextBytes(img);
            out.add(img);
        }
        return out;
    }

    /** Turns each pass takes at each batch when several are compared. */
    private static final int ROUNDS = 3;

    /**
     * Wall time of repeated calls, for at least {@code seconds / share} and 3 repetitions: the median when one pass is
     * timed, the fastest call when passes take turns (the host's slow spells only ever add time, and two passes on the
     * same routes then come out equal rather than a spell apart).
     */
    private double millis(IntConsumer call, int share) {
        List<Double> times = new ArrayList<>();
        long until = System.nanoTime() + (long) (seconds / share * 1e9);
        int i = 0;
        while (times.size() < 3 || System.nanoTime() < until) {
            long t0 = System.nanoTime();
            call.accept(i++);
            times.add((System.nanoTime() - t0) / 1e6);
        }
        double[] t = times.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return share > 1 ? t[0] : t[t.length / 2];
    }

    /** Median GFLOP/s of a 2048² float32 matMul on this machine, now. */
    static double matmulGflops() {
        try (NDManager m = NDManager.newBaseManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Engine.getInstance().setRandomSeed(7);
            NDArray a = m.randomNormal(new Shape(2048, 2048));
            NDArray b = m.randomNormal(new Shape(2048, 2048));
            a.matMul(b).close();
            double[] t = new double[7];
            for (int i = 0; i < t.length; i++) {
                long t0 = System.nanoTime();
                a.matMul(b).close();
                t[i] = (System.nanoTime() - t0) / 1e9;
            }
            Arrays.sort(t);
            return 2.0 * 2048 * 2048 * 2048 / t[t.length / 2] / 1e9;
        }
    }

    private static void print(List<Row> rows, double flops, double fmaPeak) {
        System.out.println();
        System.out.println("| batch | encode img/s | encode ms/batch | encode GFLOP/s | encode / FMA peak | encode / matMul | sample img/s "
                + "| sample ms/batch | sample GFLOP/s | sample / FMA peak | sample / matMul | matMul GFLOP/s |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            double eg = r.encodeImgPerSec() * flops / 1e9;
            double sg = r.sampleImgPerSec() * flops / 1e9;
            System.out.printf(Locale.ROOT, "| %d | %.1f | %.1f | %.1f | %.3f | %.2f | %.1f | %.1f | %.1f | %.3f | %.2f | %.1f |%n",
                    r.batch(), r.encodeImgPerSec(), r.encodeMsPerBatch(), eg, eg / fmaPeak, eg / r.ceiling(),
                    r.sampleImgPerSec(), r.sampleMsPerBatch(), sg, sg / fmaPeak, sg / r.ceiling(), r.ceiling());
        }
    }
}
