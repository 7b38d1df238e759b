package dev.glowserve.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.flow.Latents;
import dev.glowserve.runtime.Lanes;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.runtime.Workers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BiConsumer;
import java.util.function.IntConsumer;

/**
 * Encode and sample throughput of a runner at a batch size, beside a 2048² float32 matMul timed right before and after
 * (the ceiling), and optionally of the passes the chosen one must not be slower than, in the same run: each then takes
 * {@link #ROUNDS} turns in turn and keeps its fastest call, so the host's slow spells fall on all of them alike.
 * A batch runs as one call, or split into {@code workers} parts side by side.
 */
public final class InferenceBench implements AutoCloseable {

    /** One row of the results; {@code fallbacks}: encode and sample img/s of the eager, script and prepacked passes. */
    public record Row(int batch, double encodeImgPerSec, double encodeMsPerBatch, double sampleImgPerSec,
            double sampleMsPerBatch, double ceiling, Map<String, double[]> fallbacks) {}

    /** The passes the chosen one is held against, in the order they print. */
    private static final Map<String, InferenceSettings> FALLBACKS = new LinkedHashMap<>();

    static {
        FALLBACKS.put("eager", InferenceSettings.EAGER);
        FALLBACKS.put("script", new InferenceSettings(true, false, InferenceSettings.OFF));
        FALLBACKS.put("script+prepack", InferenceSettings.DEFAULT);
    }

    /** Turns each pass takes at each batch when several are compared. */
    private static final int ROUNDS = 3;

    /** How a pass's repeated calls become one figure. */
    private enum Estimator {
        /** One pass timed alone: the middle call. */
        MEDIAN,
        /** Passes taking turns: the fastest call (slow spells only ever add time; equal routes then come out equal). */
        FASTEST
    }

    private final ModelRunner runner;
    private final double seconds;
    private final int workers;
    private final Lanes lanes;
    private final ExecutorService pool;
    private final Map<String, ModelRunner> fallbackRunners = new LinkedHashMap<>();

    /**
     * @param workers parts each batch is split into, side by side (1: one call)
     * @param lanes the runner's lanes, for the ceiling side by side on them (null: none)
     * @param passes whether the eager, script and prepacked passes are measured beside the chosen one
     */
    public InferenceBench(ModelRunner runner, double seconds, int workers, Lanes lanes, boolean passes) {
        this.runner = runner;
        this.seconds = seconds;
        this.workers = workers;
        this.lanes = lanes;
        this.pool = Executors.newFixedThreadPool(workers);
        if (passes) {
            FALLBACKS.forEach((name, settings) -> fallbackRunners.put(name, runner.alongside(settings)));
        }
    }

    /** Three encodes and samples of 64 on every pass measured. */
    public void warmUp() {
        warmUp(runner);
        fallbackRunners.values().forEach(this::warmUp);
    }

    private void warmUp(ModelRunner r) {
        List<byte[]> images = images(r, 64, 0);
        for (int i = 0; i < 3; i++) {
            encodeSplit(r, images);
            sampleSplit(r, 64, i);
        }
    }

    public Row measure(int batch) {
        List<byte[]> images = images(runner, batch, batch);
        double ceiling1 = ceiling();
        int rounds = fallbackRunners.isEmpty() ? 1 : ROUNDS;
        Estimator estimator = rounds > 1 ? Estimator.FASTEST : Estimator.MEDIAN;
        double encodeMs = Double.MAX_VALUE;
        double sampleMs = Double.MAX_VALUE;
        Map<String, double[]> fallbacks = new LinkedHashMap<>();
        for (int round = 0; round < rounds; round++) {
            encodeMs = Math.min(encodeMs, millis(i -> encodeSplit(runner, images), rounds, estimator));
            sampleMs = Math.min(sampleMs, millis(i -> sampleSplit(runner, batch, i), rounds, estimator));
            for (var e : fallbackRunners.entrySet()) {
                ModelRunner other = e.getValue();
                double em = millis(i -> encodeSplit(other, images), rounds, estimator);
                double sm = millis(i -> sampleSplit(other, batch, i), rounds, estimator);
                double[] best = fallbacks.computeIfAbsent(e.getKey(), k -> new double[2]);
                best[0] = Math.max(best[0], batch / (em / 1e3));
                best[1] = Math.max(best[1], batch / (sm / 1e3));
            }
        }
        double ceiling2 = ceiling();
        return new Row(batch, batch / (encodeMs / 1e3), encodeMs, batch / (sampleMs / 1e3), sampleMs,
                Math.max(ceiling1, ceiling2), fallbacks);
    }

    /** Whether the fallback passes are measured. */
    public boolean comparesPasses() {
        return !fallbackRunners.isEmpty();
    }

    /** The table of rows, with GFLOP/s at {@code flops} per image against the FMA peak and the matMul ceiling. */
    public static void print(List<Row> rows, double flops, double fmaPeak) {
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

    /** The chosen pass beside the three it must not be slower than (0.95× the best of them or better). */
    public static void printPasses(List<Row> rows) {
        System.out.println();
        System.out.println("img/s of each pass at each batch, its fastest call in " + ROUNDS + " turns taken in turn; chosen ÷ best of the other three:");
        System.out.println("| batch | encode eager | encode script | encode script+prepack | encode chosen | chosen ÷ best "
                + "| sample eager | sample script | sample script+prepack | sample chosen | chosen ÷ best |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            StringBuilder line = new StringBuilder("| " + r.batch());
            for (int op = 0; op < 2; op++) {
                double best = 0;
                for (String name : FALLBACKS.keySet()) {
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

    /** The ceiling: one matMul, and with several workers or lanes also that many side by side (summed); the larger. */
    public double ceiling() {
        return ceiling(lanes, workers, pool);
    }

    /** {@link #ceiling()} for {@code workers} threads of {@code pool}, or the {@code lanes} where there are some. */
    static double ceiling(Lanes lanes, int workers, ExecutorService pool) {
        double one = matmulGflops();
        List<Double> sideBySide = lanes != null ? lanes.onEach(InferenceBench::matmulGflops)
                : workers > 1 ? Workers.invokeAll(pool, Collections.nCopies(workers, InferenceBench::matmulGflops))
                : List.of();
        return Math.max(one, sideBySide.stream().mapToDouble(Double::doubleValue).sum());
    }

    /** Median GFLOP/s of a 2048² float32 matMul on this machine, now. */
    public static double matmulGflops() {
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

    /** Wall time of repeated calls, for at least {@code seconds / share} and 3 repetitions, as {@code estimator} says. */
    private double millis(IntConsumer call, int share, Estimator estimator) {
        List<Double> times = new ArrayList<>();
        long until = System.nanoTime() + (long) (seconds / share * 1e9);
        int i = 0;
        while (times.size() < 3 || System.nanoTime() < until) {
            long t0 = System.nanoTime();
            call.accept(i++);
            times.add((System.nanoTime() - t0) / 1e6);
        }
        double[] t = times.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return estimator == Estimator.FASTEST ? t[0] : t[t.length / 2];
    }

    /** Encodes the batch split into {@code workers} parts, side by side. */
    private void encodeSplit(ModelRunner r, List<byte[]> images) {
        split(images.size(), (from, to) -> r.encode(images.subList(from, to), null));
    }

    private void sampleSplit(ModelRunner r, int batch, long seed) {
        split(batch, (from, to) -> r.sample(to - from, 0.7, seed * 31 + from,
                Latents.sampleLabels(r.config(), to - from, null, seed * 31 + from)));
    }

    private void split(int n, BiConsumer<Integer, Integer> part) {
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

    @Override
    public void close() {
        fallbackRunners.values().forEach(ModelRunner::close);
        pool.shutdownNow();
    }
}
