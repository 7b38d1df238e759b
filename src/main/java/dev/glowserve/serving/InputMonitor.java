package dev.glowserve.serving;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.ood.Complexity;
import dev.glowserve.ood.Drift;
import dev.glowserve.ood.OutOfDistribution;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.stereotype.Component;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What every screened input tells the operator, per model version, from what its request computed anyway: its
 * bits/dim, its OOD score under the default method and that score's calibrated p-value (Prometheus histograms), a
 * count of inputs flagged at {@code glow.drift.alpha}, and a sliding window of the scores ({@link Drift}) whose
 * drift p-value says whether the traffic still looks like the calibration images. A model without a calibration
 * gets the bits/dim histogram only.
 */
@Component
public class InputMonitor {

    /** One input's verdict: its score under the default method, that score's p-value, and whether it is below alpha. */
    public record InputCheck(double score, double pValue, boolean outlier) {}

    private final MeterRegistry meters;
    private final Drift.Settings settings;
    private final Map<String, Watch> watches = new ConcurrentHashMap<>();

    public InputMonitor(MeterRegistry meters, GlowProperties properties, ModelRegistry registry) {
        this.meters = meters;
        GlowProperties.DriftSettings d = properties.drift();
        this.settings = new Drift.Settings(d.windowSize(), d.maxAge(), d.alpha(), d.minInputs());
        registry.onRetire(this::retire);
    }

    /** A retired version's window and meters go with it. */
    private void retire(String model, String version) {
        Watch w = watches.remove(key(model, version));
        if (w != null) {
            w.registered.forEach(meters::remove);
        }
    }

    private static String key(String model, String version) {
        return model + "\u0000" + version;
    }

    public Drift.Settings settings() {
        return settings;
    }

    /** A served version's meters and window; its drift is null without a calibration. */
    private final class Watch {
        final Drift drift;
        final Complexity compressor;
        final double[] held;
        final DistributionSummary bitsPerDim;
        final DistributionSummary pValues;
        final Counter flagged;
        final Counter rejected;
        final List<io.micrometer.core.instrument.Meter> registered = new java.util.ArrayList<>();
        private volatile Drift.Report cached;
        private volatile long cachedAt;

        Watch(String model, String version, Calibration c) {
            bitsPerDim = DistributionSummary.builder("glow.input.bits.per.dim").tag("model", model).tag("version", version)
                    .description("Bits/dim of each screened input (encode, log-likelihood, ood; any API)")
                    .serviceLevelObjectives(1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8).register(meters);
            registered.add(bitsPerDim);
            held = c == null ? null : c.sorted(OutOfDistribution.DEFAULT_METHOD.id());
            if (held == null) {
                drift = null;
                compressor = null;
                pValues = null;
                flagged = null;
                rejected = null;
                return;
            }
            compressor = Complexity.of(c.compressor());
            drift = new Drift(settings, held);
            pValues = DistributionSummary.builder("glow.input.ood.p.value").tag("model", model).tag("version", version)
                    .description("Calibrated p-value of each screened input's OOD score (" + OutOfDistribution.DEFAULT_METHOD.id() + ")")
                    .serviceLevelObjectives(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1).register(meters);
            flagged = Counter.builder("glow.input.flagged").tag("model", model).tag("version", version)
                    .description("Screened inputs whose OOD p-value was below glow.drift.alpha").register(meters);
            rejected = Counter.builder("glow.input.rejected").tag("model", model).tag("version", version)
                    .description("Requests refused by the model's ood-policy=reject").register(meters);
            registered.add(pValues);
            registered.add(flagged);
            registered.add(rejected);
            for (String test : new String[] {"combined", "binomial", "ks"}) {
                registered.add(Gauge.builder("glow.drift.p.value", this, w -> w.test(test)).tag("model", model).tag("version", version).tag("test", test)
                        .description("p-value that the drift window's inputs are exchangeable with the calibration (combined: the "
                                + "alarm's; binomial: the flag rate; ks: the score distribution)").register(meters));
            }
            registered.add(Gauge.builder("glow.drift.window.inputs", this, w -> w.report().inputs()).tag("model", model)
                    .tag("version", version).description("Inputs in the drift window").register(meters));
        }

        /** The window's report, reused for a second: one scrape reads several gauges. */
        Drift.Report report() {
            long now = System.nanoTime();
            Drift.Report r = cached;
            if (r == null || now - cachedAt > 1_000_000_000L) {
                r = drift.report(now);
                cached = r;
                cachedAt = now;
            }
            return r;
        }

        double test(String test) {
            Drift.Report r = report();
            return switch (test) {
                case "binomial" -> r.binomialP();
                case "ks" -> r.ksP();
                default -> r.pValue();
            };
        }
    }

    private Watch watch(LatentService.Target t) {
        return watches.computeIfAbsent(key(t.model(), t.version()),
                k -> new Watch(t.model(), t.version(), t.runner().calibration()));
    }

    /** Whether the version held by {@code t} can be screened: it has a calibration of the default method. */
    public boolean screens(LatentService.Target t) {
        return watch(t).drift != null;
    }

    /**
     * The compressed bits/dim of each image, the part of its score the model does not compute (about 41 µs an image),
     * or null when the version cannot be screened. Called on the request's thread while the model works.
     */
    double[] complexity(LatentService.Target t, List<byte[]> images) {
        Watch w = watch(t);
        if (w.drift == null) {
            return null;
        }
        GlowConfig c = t.runner().config();
        double[] cx = new double[images.size()];
        for (int i = 0; i < cx.length; i++) {
            cx[i] = w.compressor.bitsPerDim(images.get(i), c.inChannels(), c.height(), c.width());
        }
        return cx;
    }

    /**
     * Records screened inputs' bits/dim and, with {@code complexity} (null: not screened), their scores, p-values and
     * flags into the histograms and the drift window; answers each input's check, or null when not screened.
     */
    List<InputCheck> observe(LatentService.Target t, double[] bitsPerDim, double[] complexity) {
        Watch w = watch(t);
        for (double b : bitsPerDim) {
            w.bitsPerDim.record(b);
        }
        if (w.drift == null || complexity == null) {
            return null;
        }
        long now = System.nanoTime();
        InputCheck[] checks = new InputCheck[bitsPerDim.length];
        for (int i = 0; i < checks.length; i++) {
            double score = OutOfDistribution.score(OutOfDistribution.DEFAULT_METHOD, bitsPerDim[i], complexity[i], Double.NaN);
            double p = OutOfDistribution.pValue(score, w.held);
            boolean outlier = p < settings.alpha();
            w.pValues.record(p);
            if (outlier) {
                w.flagged.increment();
            }
            w.drift.add(score, p, now);
            checks[i] = new InputCheck(score, p, outlier);
        }
        return List.of(checks);
    }

    void rejected(LatentService.Target t) {
        Watch w = watch(t);
        if (w.rejected != null) {
            w.rejected.increment();
        }
    }

    /** The drift window of the version {@code t} holds, as of now; null when it cannot be screened. */
    public Drift.Report report(LatentService.Target t) {
        Watch w = watch(t);
        return w.drift == null ? null : w.drift.report(System.nanoTime());
    }
}
