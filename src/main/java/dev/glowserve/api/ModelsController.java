package dev.glowserve.api;

import dev.glowserve.api.Dtos.DecodeRequest;
import dev.glowserve.api.Dtos.EncodeResponse;
import dev.glowserve.api.Dtos.EncodeResult;
import dev.glowserve.api.Dtos.ImageResult;
import dev.glowserve.api.Dtos.ImagesRequest;
import dev.glowserve.api.Dtos.ImagesResponse;
import dev.glowserve.api.Dtos.InterpolateRequest;
import dev.glowserve.api.Dtos.ManipulateRequest;
import dev.glowserve.api.Dtos.ModelInfo;
import dev.glowserve.api.Dtos.ModelList;
import dev.glowserve.api.Dtos.SampleRequest;
import dev.glowserve.api.Dtos.SampleResponse;
import dev.glowserve.api.Dtos.ScoreResponse;
import dev.glowserve.api.Dtos.ScoreResult;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.serving.GlowProperties;
import dev.glowserve.serving.InputMonitor;
import dev.glowserve.serving.LatentService.Target;
import dev.glowserve.serving.LatentService;
import dev.glowserve.serving.ServedModel;
import io.swagger.v3.oas.annotations.Operation;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The {@code /v1} API (documented in {@link ModelsApi}): parses a request, calls {@link LatentService}, renders. */
@RestController
@RequestMapping("/v1/models")
public class ModelsController implements ModelsApi {

    private static final String JSON = MediaType.APPLICATION_JSON_VALUE;
    private static final String PNG = MediaType.IMAGE_PNG_VALUE;

    private final LatentService latents;
    private final ModelViews views;

    public ModelsController(LatentService latents, ModelViews views) {
        this.latents = latents;
        this.views = views;
    }

    @Override
    @GetMapping(produces = JSON)
    public ModelList models() {
        return views.models();
    }

    @Override
    @GetMapping(value = "/{model}", produces = JSON)
    public ModelInfo model(@PathVariable String model) {
        return views.model(model);
    }

    // ---------------------------------------------------------------- sample

    private LatentService.Samples sampling(Target t, SampleRequest body) {
        SampleRequest req = body != null ? body : new SampleRequest(null, null, null, null, null);
        Integer cls = Inputs.cls("class", req.cls(), t.view());
        return latents.sample(t, req.n(), req.temperature(), req.seed(), cls, WebConfig.work());
    }

    @Override
    @PostMapping(value = "/{model}/sample", consumes = JSON, produces = JSON)
    public CompletableFuture<SampleResponse> sample(@PathVariable String model, @RequestBody(required = false) SampleRequest body) {
        return latents.serve(model, t -> {
            LatentService.Samples s = sampling(t, body);
            boolean withLatents = body != null && Boolean.TRUE.equals(body.returnLatents());
            GlowConfig c = t.view().config();
            return latents.respond("sample", t, s.images(), images -> {
                List<ImageResult> out = new ArrayList<>();
                for (int i = 0; i < images.size(); i++) {
                    out.add(new ImageResult(ModelViews.png(images.get(i), c), s.labels() == null ? null : s.labels()[i],
                            withLatents ? Inputs.nested(s.eps().get(i), c) : null));
                }
                return new SampleResponse(model, s.seed(), s.temperatures()[0], out);
            });
        });
    }

    @PostMapping(value = "/{model}/sample", consumes = JSON, produces = PNG)
    @Operation(hidden = true) // documented with sample
    public CompletableFuture<ResponseEntity<byte[]>> sampleGrid(@PathVariable String model,
            @RequestBody(required = false) SampleRequest body) {
        return latents.serve(model, t -> {
            LatentService.Samples s = sampling(t, body);
            return latents.respond("sample", t, s.images(), images -> ResponseEntity.ok().contentType(MediaType.IMAGE_PNG)
                    .header("X-Seed", Long.toString(s.seed())).body(ModelViews.grid(images, t.view().config(), true)));
        });
    }

    // ---------------------------------------------------------------- encode / score

    @Override
    @PostMapping(value = "/{model}/encode", consumes = JSON, produces = JSON)
    public CompletableFuture<EncodeResponse> encode(@PathVariable String model, @RequestBody ImagesRequest body) {
        return latents.serve(model, t -> {
            List<String> fitted = Inputs.fitted(body.fit());
            List<byte[]> images = Inputs.images(body.images(), t.view(), latents.limits(), fitted);
            return encodeImages(t, images, Inputs.classes(body.classes(), images.size(), t.view()), fitted, Inputs.oodPolicy(body.oodPolicy()));
        });
    }

    @PostMapping(value = "/{model}/encode", consumes = MediaType.MULTIPART_FORM_DATA_VALUE, produces = JSON)
    @Operation(hidden = true) // documented with encode
    public CompletableFuture<EncodeResponse> encodeUpload(@PathVariable String model, @RequestPart("images") List<MultipartFile> files,
            @RequestPart(value = "classes", required = false) List<Integer> classes) {
        return latents.serve(model, t -> {
            List<byte[]> images = Inputs.uploads(files, t.view(), latents.limits());
            return encodeImages(t, images, Inputs.classes(classes, images.size(), t.view()), null, null);
        });
    }

    private CompletableFuture<EncodeResponse> encodeImages(Target t, List<byte[]> images, int[] labels, List<String> fitted,
            GlowProperties.OodPolicy policy) {
        GlowConfig c = t.view().config();
        return latents.respond("encode", t, latents.encode(t, images, labels, policy, WebConfig.work()), s -> {
            List<EncodeResult> results = new java.util.ArrayList<>();
            for (int i = 0; i < s.encoded().size(); i++) {
                ModelRunner.Encoded e = s.encoded().get(i);
                results.add(new EncodeResult(Inputs.nested(e.eps(), c), e.score().logPNats(), e.score().bitsPerDim(), e.score().label(),
                        e.score().classProbabilities(), verdict(s, i)));
            }
            return new EncodeResponse(t.model(), results, Inputs.orNone(fitted));
        });
    }

    private static Dtos.InputVerdict verdict(LatentService.Screened s, int i) {
        if (s.checks() == null) {
            return null;
        }
        InputMonitor.InputCheck check = s.checks().get(i);
        return new Dtos.InputVerdict(check.score(), check.pValue(), check.outlier());
    }

    @Override
    @PostMapping(value = "/{model}/log-likelihood", consumes = JSON, produces = JSON)
    public CompletableFuture<ScoreResponse> logLikelihood(@PathVariable String model, @RequestBody ImagesRequest body) {
        return latents.serve(model, t -> {
            List<String> fitted = Inputs.fitted(body.fit());
            List<byte[]> images = Inputs.images(body.images(), t.view(), latents.limits(), fitted);
            return scoreImages(t, images, Inputs.classes(body.classes(), images.size(), t.view()), fitted, Inputs.oodPolicy(body.oodPolicy()));
        });
    }

    @PostMapping(value = "/{model}/log-likelihood", consumes = MediaType.MULTIPART_FORM_DATA_VALUE, produces = JSON)
    @Operation(hidden = true) // documented with log-likelihood
    public CompletableFuture<ScoreResponse> logLikelihoodUpload(@PathVariable String model,
            @RequestPart("images") List<MultipartFile> files, @RequestPart(value = "classes", required = false) List<Integer> classes) {
        return latents.serve(model, t -> {
            List<byte[]> images = Inputs.uploads(files, t.view(), latents.limits());
            return scoreImages(t, images, Inputs.classes(classes, images.size(), t.view()), null, null);
        });
    }

    private CompletableFuture<ScoreResponse> scoreImages(Target t, List<byte[]> images, int[] labels, List<String> fitted,
            GlowProperties.OodPolicy policy) {
        return latents.respond("log-likelihood", t, latents.encode(t, images, labels, policy, WebConfig.work()), s -> {
            List<ScoreResult> results = new java.util.ArrayList<>();
            for (int i = 0; i < s.encoded().size(); i++) {
                ModelRunner.Score e = s.encoded().get(i).score();
                results.add(new ScoreResult(e.logPNats(), e.bitsPerDim(), e.label(), e.classProbabilities(), verdict(s, i)));
            }
            return new ScoreResponse(t.model(), results, Inputs.orNone(fitted));
        });
    }

    // ---------------------------------------------------------------- decode

    private CompletableFuture<List<byte[]>> decoding(Target t, DecodeRequest body) {
        Inputs.Items items = Inputs.items(body, t.view(), latents.limits());
        return latents.decode(t, items.eps(), items.labels(), WebConfig.work());
    }

    @Override
    @PostMapping(value = "/{model}/decode", consumes = JSON, produces = JSON)
    public CompletableFuture<ImagesResponse> decode(@PathVariable String model, @RequestBody DecodeRequest body) {
        return latents.serve(model, t -> {
            return latents.respond("decode", t, decoding(t, body), images -> ModelViews.images(t, images, null));
        });
    }

    @PostMapping(value = "/{model}/decode", consumes = JSON, produces = PNG)
    @Operation(hidden = true) // documented with decode
    public CompletableFuture<ResponseEntity<byte[]>> decodeGrid(@PathVariable String model, @RequestBody DecodeRequest body) {
        return latents.serve(model, t -> {
            return latents.respond("decode", t, decoding(t, body), images -> ModelViews.pngResponse(images, t, true));
        });
    }

    // ---------------------------------------------------------------- interpolate

    private CompletableFuture<List<byte[]>> interpolation(Target t, InterpolateRequest body) {
        if (body == null || body.from() == null || body.to() == null) {
            throw ClientError.malformed("from and to are required");
        }
        Integer cls = Inputs.cls("class", body.cls(), t.view());
        return latents.interpolate(t, end("from", body.from(), t.view()), end("to", body.to(), t.view()), cls,
                body.steps(), body.method(), WebConfig.work());
    }

    /** An end of the path: exactly one of image or latents, and its class. */
    private LatentService.PathEnd end(String field, Dtos.PathEnd end, ServedModel.View r) {
        Integer cls = Inputs.cls(field + ".class", end.cls(), r);
        if ((end.image() != null) == (end.latents() != null)) {
            throw ClientError.malformed(field + " needs exactly one of image or latents");
        }
        return end.latents() != null ? new LatentService.PathEnd(null, Inputs.latents(field + ".latents", end.latents(), r,
                latents.limits()), cls) : new LatentService.PathEnd(Inputs.image(field + ".image",
                Inputs.base64(field + ".image", end.image()), r, latents.limits()), null, cls);
    }

    @Override
    @PostMapping(value = "/{model}/interpolate", consumes = JSON, produces = JSON)
    public CompletableFuture<ImagesResponse> interpolate(@PathVariable String model, @RequestBody InterpolateRequest body) {
        return latents.serve(model, t -> {
            return latents.respond("interpolate", t, interpolation(t, body), images -> ModelViews.images(t, images, null));
        });
    }

    @PostMapping(value = "/{model}/interpolate", consumes = JSON, produces = PNG)
    @Operation(hidden = true) // documented with interpolate
    public CompletableFuture<ResponseEntity<byte[]>> interpolateStrip(@PathVariable String model, @RequestBody InterpolateRequest body) {
        return latents.serve(model, t -> {
            return latents.respond("interpolate", t, interpolation(t, body), images -> ModelViews.pngResponse(images, t, false));
        });
    }

    // ---------------------------------------------------------------- manipulate

    private LatentService.Manipulation manipulation(Target t, ManipulateRequest body) {
        latents.requireClasses(t);
        if (body == null || body.image() == null || body.toClass() == null) {
            throw ClientError.malformed("image and to_class are required");
        }
        ServedModel.View r = t.view();
        Integer from = Inputs.cls("from_class", body.fromClass(), r);
        int to = Inputs.cls("to_class", body.toClass(), r);
        byte[] image = Inputs.image("image", Inputs.base64("image", body.image()), r, latents.limits());
        return latents.manipulate(t, image, from, to, body.scales(), WebConfig.work());
    }

    @Override
    @PostMapping(value = "/{model}/manipulate", consumes = JSON, produces = JSON)
    public CompletableFuture<ImagesResponse> manipulate(@PathVariable String model, @RequestBody ManipulateRequest body) {
        return latents.serve(model, t -> {
            LatentService.Manipulation m = manipulation(t, body);
            return latents.respond("manipulate", t, m.images(), images -> ModelViews.images(t, images, m.directionSource()));
        });
    }

    @PostMapping(value = "/{model}/manipulate", consumes = JSON, produces = PNG)
    @Operation(hidden = true) // documented with manipulate
    public CompletableFuture<ResponseEntity<byte[]>> manipulateStrip(@PathVariable String model, @RequestBody ManipulateRequest body) {
        return latents.serve(model, t -> {
            return latents.respond("manipulate", t, manipulation(t, body).images(), images -> ModelViews.pngResponse(images, t, false));
        });
    }
}
