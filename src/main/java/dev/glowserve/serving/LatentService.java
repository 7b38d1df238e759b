package dev.glowserve.serving;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Latents;
import dev.glowserve.ood.Complexity;
import dev.glowserve.ood.OutOfDistribution;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.runtime.ModelRunner;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.annotation.PreDestroy;
import org.springframework.stereotype.Service;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * What the service does with a model, between the web layer and the batching scheduler: sample, encode, decode,
 * interpolate and manipulate in latent space, with their defaults and their checks, every model job tracked for the
 * request that queued it ({@link RequestWork}), responses built off the model's threads, latencies recorded. The
 * web layer parses requests into these calls' arguments and renders what they return.
 *
 * <p>Over 300 lines because each operation's defaults and checks sit beside the operation; batching, OOD measurement
 * and request tracking are their own classes.
 */
@Service
public class LatentService {

    /** Defaults of the operations, as the API documents them. */
    public static final int DEFAULT_SAMPLES = 1;
    public static final double DEFAULT_TEMPERATURE = 0.7;
    public static final int DEFAULT_STEPS = 8;
    public static final List<Double> DEFAULT_SCALES = List.of(0.0, 0.5, 1.0, 1.5);
    /** At most this many scales a manipulation, each within ±{@link #MAX_SCALE}. */
    public static final int MAX_SCALES = 16;
    public static final double MAX_SCALE = 4;

    private final ModelRegistry registry;
    private final GlowProperties.Limits limits;
    private final MeterRegistry meters;
    private final InputMonitor monitor;
    /** PNG encoding and response building, off the model's worker threads. */
    private final ExecutorService responses = Executors.newFixedThreadPool(
            Math.max(2, Runtime.getRuntime().availableProcessors()), r -> {
                Thread t = new Thread(r, "glow-response");
                t.setDaemon(true);
                return t;
            });

    public LatentService(ModelRegistry registry, GlowProperties properties, MeterRegistry meters, InputMonitor monitor) {
        this.registry = registry;
        this.limits = properties.limits();
        this.meters = meters;
        this.monitor = monitor;
    }

    @PreDestroy
    void shutdown() {
        responses.shutdown();
    }

    /**
     * The model version a request works with, admitted past its queue's back-pressure before the request parses
     * anything, and held for the request's whole life (a version swapped meanwhile finishes it).
     */
    public record Target(String model, ServedModel.Lease lease) {
        BatchScheduler scheduler() {
            return lease.model().scheduler();
        }

        ModelRunner runner() {
            return lease.model().runner();
        }

        /** Triton-style statistics of the version the request holds. */
        public InferenceStatistics statistics() {
            return scheduler().statistics();
        }

        /** What the API may know of the version the request holds. */
        public ServedModel.View view() {
            return lease.model().view();
        }

        public String version() {
            return lease.model().version();
        }
    }

    /**
     * Runs one request on {@code model}: 404 unknown, 503 unavailable, 429 with its queue full; the model's version
     * is held until the future {@code request} returns completes (or it throws).
     */
    public <R> CompletableFuture<R> serve(String model, Function<Target, CompletableFuture<R>> request) {
        ServedModel.Lease lease = registry.lease(model);
        try {
            return request.apply(new Target(model, lease)).whenComplete((v, e) -> lease.close());
        } catch (RuntimeException | Error e) {
            lease.close();
            throw e;
        }
    }

    public GlowProperties.Limits limits() {
        return limits;
    }

    // ------------------------------------------------------------------ sample

    /** A sampling request's latents, their draw (seed, temperature per image, classes) and the images decoded from them. */
    public record Samples(int n, double[] temperatures, long seed, int[] labels, List<float[][]> eps,
                          CompletableFuture<List<byte[]>> images) {}

    /**
     * {@code n} (default 1) images at temperature T (default 0.7) from {@code seed} (default: a random one, returned);
     * a class-conditional model samples {@code cls}, or classes drawn from the seed.
     */
    public Samples sample(Target t, Integer n, Double temperature, Long seed, Integer cls, RequestWork work) {
        int count = n == null ? DEFAULT_SAMPLES : n;
        ClientError.range("n", count, 1, limits.maxSamples());
        double temp = temperature == null ? DEFAULT_TEMPERATURE : temperature;
        ClientError.range("temperature", temp, 0, limits.maxTemperature());
        double[] temps = new double[count];
        Arrays.fill(temps, temp);
        long s = seed != null ? seed : randomSeed();
        return draw(t, temps, s, Latents.sampleLabels(t.runner().config(), count, cls, s), work);
    }

    /**
     * One image per temperature (each taken as the shortest decimal of its float32 value, as a client wrote it), from
     * {@code seed}; {@code labels} one class per image, or null for classes drawn from the seed. The same seed and
     * temperatures give the images the other form gives.
     */
    public Samples sample(Target t, float[] temperatures, Long seed, int[] labels, RequestWork work) {
        ClientError.range("the number of temperatures (one per image)", temperatures.length, 1, limits.maxSamples());
        double[] temps = new double[temperatures.length];
        for (int i = 0; i < temps.length; i++) {
            temps[i] = Double.parseDouble(Float.toString(temperatures[i]));
            ClientError.range("temperature[" + i + "]", temps[i], 0, limits.maxTemperature());
        }
        long s = seed != null ? seed : randomSeed();
        return draw(t, temps, s, labels != null ? labels : Latents.sampleLabels(t.runner().config(), temps.length, null, s), work);
    }

    private static long randomSeed() {
        return ThreadLocalRandom.current().nextLong(1L << 53);
    }

    private Samples draw(Target t, double[] temperatures, long seed, int[] labels, RequestWork work) {
        List<float[][]> eps = Latents.sample(t.runner().config(), temperatures, seed);
        return new Samples(temperatures.length, temperatures, seed, labels, eps, t.scheduler().decode(eps, labels, work));
    }

    // ------------------------------------------------------------------ encode, decode

    /** An encode or log-likelihood answer: latents and scores, and each input's check (null: not asked for, or not screened). */
    public record Screened(List<ModelRunner.Encoded> encoded, List<InputMonitor.InputCheck> checks) {}

    /**
     * Latents and scores ({@code labels} null on a class-conditional model: the most probable class), every input
     * screened on the way ({@link InputMonitor}: histograms, the drift window) and judged by the stricter of the
     * model's ood-policy and {@code asked} (null: the model's): {@code flag} answers each input's check, {@code reject}
     * refuses the request if any input is below alpha. Inputs given with a class are scored in it, not by the marginal
     * likelihood the calibration is made of: they are not screened, and refused under {@code reject}.
     */
    public CompletableFuture<Screened> encode(Target t, List<byte[]> images, int[] labels, GlowProperties.OodPolicy asked,
            RequestWork work) {
        GlowProperties.OodPolicy policy = stricter(registry.oodPolicy(t.model()), asked);
        if (policy != GlowProperties.OodPolicy.OFF && !monitor.screens(t)) {
            throw new NotCalibrated(t.model());
        }
        if (policy == GlowProperties.OodPolicy.REJECT && labels != null) {
            throw ClientError.unprocessable("ood-policy", "model '" + t.model() + "' screens its inputs (ood-policy=reject) by "
                    + "their likelihood over all classes: send the images without classes");
        }
        CompletableFuture<List<ModelRunner.Encoded>> encoded = t.scheduler().encode(images, labels, work);
        double[] complexity = labels == null ? monitor.complexity(t, images) : null; // while the model works
        return encoded.thenApply(enc -> {
            List<InputMonitor.InputCheck> checks = monitor.observe(t, enc.stream().mapToDouble(e -> e.score().bitsPerDim()).toArray(),
                    complexity);
            if (policy == GlowProperties.OodPolicy.REJECT) {
                for (int i = 0; i < checks.size(); i++) {
                    if (checks.get(i).outlier()) {
                        monitor.rejected(t);
                        throw new OutOfDistributionRejected(t.model(), i, checks.get(i).pValue(), monitor.settings().alpha());
                    }
                }
            }
            return new Screened(enc, policy == GlowProperties.OodPolicy.OFF ? null : checks);
        });
    }

    private static GlowProperties.OodPolicy stricter(GlowProperties.OodPolicy model, GlowProperties.OodPolicy asked) {
        return asked == null || asked.compareTo(model) < 0 ? model : asked;
    }

    /** What model {@code name} does with inputs unlike its calibration. */
    public GlowProperties.OodPolicy oodPolicy(String name) {
        return registry.oodPolicy(name);
    }

    /** The drift window of the version {@code t} holds (409 without a calibration). */
    public dev.glowserve.ood.Drift.Report drift(Target t) {
        dev.glowserve.ood.Drift.Report r = monitor.report(t);
        if (r == null) {
            throw new NotCalibrated(t.model());
        }
        return r;
    }

    public dev.glowserve.ood.Drift.Settings driftSettings() {
        return monitor.settings();
    }

    /** An input below the calibration's alpha, refused by the model's ood-policy=reject (HTTP 422; V2 400). */
    public static final class OutOfDistributionRejected extends RuntimeException {
        public OutOfDistributionRejected(String model, int index, double pValue, double alpha) {
            super(String.format(java.util.Locale.ROOT, "image %d does not look like model '%s''s training data: its OOD p-value is "
                    + "%.4g, below alpha %.3g (ood-policy=reject)", index, model, pValue, alpha), null, false, false);
        }
    }

    /** Standardised latents back to images, exactly: decode(encode(x)) = x. */
    public CompletableFuture<List<byte[]>> decode(Target t, List<float[][]> eps, int[] labels, RequestWork work) {
        return t.scheduler().decode(eps, labels, work);
    }

    // ------------------------------------------------------------------ out of distribution

    /**
     * Whether images are like the model's training data ({@link OutOfDistribution}): their bits/dim (the marginal
     * over classes: the class of an image that may be of none is not known) and their compressed size, judged
     * against the model's calibration. Method null: the default; alpha null: 0.05. A model without a calibration
     * answers 409, saying how to make one.
     */
    public CompletableFuture<OutOfDistribution.Verdicts> outOfDistribution(Target t, List<byte[]> images, String method,
            Double alpha, RequestWork work) {
        Calibration c = t.runner().calibration();
        if (c == null) {
            throw new NotCalibrated(t.model());
        }
        OutOfDistribution.Method m = method == null ? OutOfDistribution.DEFAULT_METHOD : OutOfDistribution.Method.of(method);
        double a = alpha == null ? OutOfDistribution.DEFAULT_ALPHA : alpha;
        if (!(a > 0 && a < 1)) {
            throw ClientError.unprocessable("out-of-range", "alpha = " + a + " must be in (0, 1)");
        }
        if (c.sorted(m.id()) == null) {
            throw new NotCalibrated(t.model(), m.id());
        }
        GlowConfig g = t.runner().config();
        return OutOfDistribution.measure(images, g.inChannels(), g.height(), g.width(), Complexity.of(c.compressor()),
                m.needsUpsideDown(), batch -> bitsPerDim(t.scheduler().encode(batch, null, work)))
                .thenApply(measures -> {
                    monitor.observe(t, measures.bitsPerDim(), measures.complexity());
                    return OutOfDistribution.judge(m, a, measures, c);
                });
    }

    private static CompletableFuture<double[]> bitsPerDim(CompletableFuture<List<ModelRunner.Encoded>> encoded) {
        return encoded.thenApply(enc -> enc.stream().mapToDouble(e -> e.score().bitsPerDim()).toArray());
    }

    /** The model's artifact has no out-of-distribution calibration (HTTP 409). */
    public static final class NotCalibrated extends RuntimeException {
        public NotCalibrated(String model) {
            super("model '" + model + "' has no out-of-distribution calibration: run `glow-serve calibrate --model DIR --idx FILE` "
                    + "on held-out in-distribution images (it writes DIR/" + Calibration.FILE + "), then serve DIR");
        }

        /** Calibrated, by an older calibration without this method. */
        public NotCalibrated(String model, String method) {
            super("model '" + model + "' has no calibration for method '" + method + "': run `glow-serve calibrate --model DIR "
                    + "--idx FILE` on it again (it writes every method into DIR/" + Calibration.FILE + "), then serve DIR");
        }
    }

    // ------------------------------------------------------------------ interpolate

    /** An end of an interpolation: an image, or latents; the class it is given in, if any. */
    public record PathEnd(byte[] image, float[][] latents, Integer cls) {}

    /**
     * The path of {@code steps} images (default 8, both ends included) between two ends, mixing their latents
     * linearly or spherically ({@code method} linear, the default, or slerp). On a class-conditional model the path is
     * decoded in one class: {@code cls}, else the class of 'from' (given, or its most probable one); image ends are
     * encoded in it, latents ends must be in it.
     */
    public CompletableFuture<List<byte[]>> interpolate(Target t, PathEnd from, PathEnd to, Integer cls, Integer steps,
            String method, RequestWork work) {
        int n = steps == null ? DEFAULT_STEPS : steps;
        ClientError.range("steps", n, 2, limits.maxInterpolationSteps());
        String how = method == null ? "linear" : method;
        if (!how.equals("linear") && !how.equals("slerp")) {
            throw ClientError.unprocessable("out-of-range", "method = '" + how + "'; use linear or slerp");
        }
        boolean spherical = how.equals("slerp");
        BatchScheduler s = t.scheduler();
        boolean conditional = t.runner().config().conditional();
        Integer pathClass = conditional && cls == null ? from.cls() : cls;
        if (conditional && pathClass == null && from.latents() != null) {
            throw ClientError.unprocessable("missing-class", "class (or from.class) is required when 'from' is latents "
                    + "on a class-conditional model");
        }
        // the path's class: given, or the most probable class of the 'from' image
        CompletableFuture<Integer> inClass = !conditional || pathClass != null ? CompletableFuture.completedFuture(pathClass)
                : s.encode(List.of(from.image()), null, work).thenApply(enc -> enc.get(0).score().label());
        return inClass.thenCompose(k -> {
            for (PathEnd end : new PathEnd[] {from, to}) {
                if (k != null && end.latents() != null && end.cls() != null && !end.cls().equals(k)) {
                    throw ClientError.unprocessable("class-mismatch", "latents end of class " + end.cls() + " on a path in class "
                            + k + "; the latents of a class-conditional model are relative to one class");
                }
            }
            CompletableFuture<float[][]> a = latentsOf(s, from, k, work);
            CompletableFuture<float[][]> b = latentsOf(s, to, k, work);
            return a.thenCombine(b, (x, y) -> path(x, y, n, spherical)).thenCompose(path -> {
                int[] labels = null;
                if (k != null) {
                    labels = new int[n];
                    Arrays.fill(labels, k);
                }
                return s.decode(path, labels, work);
            });
        });
    }

    private static CompletableFuture<float[][]> latentsOf(BatchScheduler s, PathEnd end, Integer cls, RequestWork work) {
        if (end.latents() != null) {
            return CompletableFuture.completedFuture(end.latents());
        }
        int[] one = cls == null ? null : new int[] {cls};
        return s.encode(List.of(end.image()), one, work).thenApply(enc -> enc.get(0).eps());
    }

    private static List<float[][]> path(float[][] from, float[][] to, int steps, boolean spherical) {
        List<float[][]> path = new ArrayList<>(steps);
        for (int i = 0; i < steps; i++) {
            path.add(Latents.interpolate(from, to, i / (double) (steps - 1), spherical));
        }
        return path;
    }

    // ------------------------------------------------------------------ manipulate

    /** The moved images, one per scale, and where the direction came from: class_means or top_prior. */
    public record Manipulation(CompletableFuture<List<byte[]>> images, String directionSource) {}

    /**
     * A class-conditional model's image moved along the direction from class {@code fromClass} (default: its most
     * probable class) to {@code toClass}, once per scale (default 0, 0.5, 1, 1.5), in the flow's raw latent z.
     */
    public Manipulation manipulate(Target t, byte[] image, Integer fromClass, int toClass, List<Double> scales, RequestWork work) {
        ModelRunner r = t.runner();
        requireClasses(t);
        List<Double> by = scales == null ? DEFAULT_SCALES : scales;
        if (by.isEmpty() || by.size() > MAX_SCALES) {
            throw ClientError.unprocessable("out-of-range", "scales has " + by.size() + " entries; allowed 1.." + MAX_SCALES);
        }
        for (int i = 0; i < by.size(); i++) {
            if (by.get(i) == null) {
                throw ClientError.malformed("scales[" + i + "] is null");
            }
            ClientError.range("scales[" + i + "]", by.get(i), -MAX_SCALE, MAX_SCALE);
        }
        BatchScheduler s = t.scheduler();
        CompletableFuture<List<byte[]>> images = s.encode(List.of(image), fromClass == null ? null : new int[] {fromClass}, work)
                .thenCompose(enc -> {
                    int start = fromClass != null ? fromClass : enc.get(0).score().label();
                    return s.decodeZ(moved(enc.get(0).z(), Latents.classDirection(r.glow(), r.classMeans(), start, toClass), by), work);
                });
        return new Manipulation(images, r.hasMeasuredClassMeans() ? "class_means" : "top_prior");
    }

    /** Manipulation moves between classes: a model without them is refused before its input is read. */
    public void requireClasses(Target t) {
        if (!t.runner().config().conditional()) {
            throw ClientError.unprocessable("not-conditional", "model '" + t.model()
                    + "' is not class-conditional; manipulate needs class means");
        }
    }

    /** z + a·direction for each scale a. */
    private static List<float[][]> moved(float[][] z, float[][] direction, List<Double> scales) {
        List<float[][]> out = new ArrayList<>(scales.size());
        for (double a : scales) {
            float[][] m = new float[z.length][];
            for (int l = 0; l < z.length; l++) {
                m[l] = new float[z[l].length];
                for (int j = 0; j < z[l].length; j++) {
                    m[l][j] = (float) (z[l][j] + a * direction[l][j]);
                }
            }
            out.add(m);
        }
        return out;
    }

    // ------------------------------------------------------------------ responses

    /**
     * The response {@code render} builds from the model's results, on the service's response threads, with the
     * request's latency from here to its response recorded per endpoint, model and outcome.
     */
    public <T, R> CompletableFuture<R> respond(String endpoint, Target t, CompletableFuture<T> results, Function<T, R> render) {
        long start = System.nanoTime();
        return results.thenApplyAsync(render, responses).whenComplete((v, e) -> {
            long took = System.nanoTime() - start;
            Timer.builder("glow.requests").tag("endpoint", endpoint).tag("model", t.model()).tag("version", t.version())
                    .tag("outcome", e == null ? "success" : "error")
                    .description("Latency of model requests from validation to response").register(meters)
                    .record(took, TimeUnit.NANOSECONDS);
            t.scheduler().statistics().request(e == null, took);
        });
    }
}
