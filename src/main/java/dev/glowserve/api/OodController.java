package dev.glowserve.api;

import dev.glowserve.api.Dtos.DriftHistogram;
import dev.glowserve.api.Dtos.DriftResponse;
import dev.glowserve.api.Dtos.OodBatch;
import dev.glowserve.api.Dtos.OodCalibrationInfo;
import dev.glowserve.api.Dtos.OodHistogram;
import dev.glowserve.api.Dtos.OodRequest;
import dev.glowserve.api.Dtos.OodResponse;
import dev.glowserve.api.Dtos.OodResult;
import dev.glowserve.artifact.Calibration;
import dev.glowserve.ood.Drift;
import dev.glowserve.ood.OutOfDistribution;
import dev.glowserve.serving.LatentService.Target;
import dev.glowserve.serving.LatentService;
import dev.glowserve.serving.ModelRegistry;
import dev.glowserve.serving.ServedModel;
import io.swagger.v3.oas.annotations.Operation;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** {@code /v1/models/{model}/ood} (documented in {@link OodApi}): out-of-distribution verdicts and the calibration behind them. */
@RestController
@RequestMapping("/v1/models")
public class OodController implements OodApi {

    private static final String JSON = MediaType.APPLICATION_JSON_VALUE;
    static final int HISTOGRAM_BINS = 40;

    private final LatentService latents;
    private final ModelRegistry registry;

    public OodController(LatentService latents, ModelRegistry registry) {
        this.latents = latents;
        this.registry = registry;
    }

    @Override
    @PostMapping(value = "/{model}/ood", consumes = JSON, produces = JSON)
    public CompletableFuture<OodResponse> ood(@PathVariable String model, @RequestBody OodRequest body) {
        return latents.serve(model, t -> {
            List<String> fitted = Inputs.fitted(body.fit());
            return judge(t, Inputs.images(body.images(), t.view(), latents.limits(), fitted), body.method(), body.alpha(), fitted);
        });
    }

    @PostMapping(value = "/{model}/ood", consumes = MediaType.MULTIPART_FORM_DATA_VALUE, produces = JSON)
    @Operation(hidden = true) // documented with ood
    public CompletableFuture<OodResponse> oodUpload(@PathVariable String model, @RequestPart("images") List<MultipartFile> files,
            @RequestParam(value = "method", required = false) String method, @RequestParam(value = "alpha", required = false) Double alpha) {
        return latents.serve(model, t -> judge(t, Inputs.uploads(files, t.view(), latents.limits()), method, alpha, null));
    }

    private CompletableFuture<OodResponse> judge(Target t, List<byte[]> images, String method, Double alpha, List<String> fitted) {
        return latents.respond("ood", t, latents.outOfDistribution(t, images, method, alpha, WebConfig.work()), v -> {
            List<OodResult> results = new ArrayList<>(v.images().size());
            for (OutOfDistribution.ImageVerdict i : v.images()) {
                results.add(new OodResult(i.bitsPerDim(), i.complexityBitsPerDim(), i.score(), i.pValue(), i.outlier()));
            }
            OutOfDistribution.BatchVerdict b = v.batch();
            return new OodResponse(t.model(), v.method().id(), v.alpha(), results,
                    b == null ? null : new OodBatch(b.size(), b.score(), b.threshold(), b.pValue(), b.outlier()), Inputs.orNone(fitted));
        });
    }

    @Override
    @GetMapping(value = "/{model}/ood", produces = JSON)
    public OodCalibrationInfo calibration(@PathVariable String model) {
        ServedModel.View v = registry.view(model);
        if (!v.available()) {
            throw new ModelRegistry.ModelUnavailable(model, v.error());
        }
        Calibration c = v.calibration();
        if (c == null) {
            throw new LatentService.NotCalibrated(model);
        }
        List<OodHistogram> histograms = new ArrayList<>();
        for (OutOfDistribution.Method m : OutOfDistribution.Method.values()) {
            if (c.sorted(m.id()) != null) { // an older calibration may lack a method
                histograms.add(histogram(m.id(), c.sorted(m.id())));
            }
        }
        return new OodCalibrationInfo(model, c.source(), c.images(), c.compressor(), OutOfDistribution.DEFAULT_METHOD.id(),
                c.meanBitsPerDim(), histograms);
    }

    @Override
    @GetMapping(value = "/{model}/drift", produces = JSON)
    public CompletableFuture<DriftResponse> drift(@PathVariable String model) {
        return latents.serve(model, t -> {
            Drift.Report r = latents.drift(t);
            Drift.Settings s = latents.driftSettings();
            return CompletableFuture.completedFuture(new DriftResponse(t.model(), t.version(), OutOfDistribution.DEFAULT_METHOD.id(),
                    s.size(), s.maxAge().toSeconds(), s.alpha(), r.inputs(), r.ageSeconds(), r.flagged(), r.binomialP(), r.ksStatistic(),
                    r.ksP(), r.pValue(), new DriftHistogram(r.window().edges(), r.window().fractions(), r.calibration().fractions()),
                    latents.oodPolicy(t.model()).name().toLowerCase(java.util.Locale.ROOT)));
        });
    }

    /** Equal-width bins over the middle 99.8% of the held-out scores (the rest in the edge bins). */
    static OodHistogram histogram(String method, double[] sorted) {
        double lo = sorted[(int) (0.001 * (sorted.length - 1))];
        double hi = sorted[(int) Math.ceil(0.999 * (sorted.length - 1))];
        double step = hi > lo ? (hi - lo) / HISTOGRAM_BINS : 1;
        double[] edges = new double[HISTOGRAM_BINS + 1];
        for (int i = 0; i <= HISTOGRAM_BINS; i++) {
            edges[i] = lo + i * step;
        }
        int[] counts = new int[HISTOGRAM_BINS];
        for (double s : sorted) {
            counts[Math.max(0, Math.min(HISTOGRAM_BINS - 1, (int) ((s - lo) / step)))]++;
        }
        return new OodHistogram(method, edges, counts, OutOfDistribution.flaggedAbove(sorted, OutOfDistribution.DEFAULT_ALPHA));
    }
}
