package dev.glowserve.api;

import dev.glowserve.api.Dtos.DecodeItem;
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
import dev.glowserve.api.Dtos.PathEnd;
import dev.glowserve.api.Dtos.SampleRequest;
import dev.glowserve.api.Dtos.SampleResponse;
import dev.glowserve.api.Dtos.ScoreResponse;
import dev.glowserve.api.Dtos.ScoreResult;
import dev.glowserve.data.Png;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Latents;
import dev.glowserve.inference.BatchScheduler;
import dev.glowserve.inference.Devices;
import dev.glowserve.inference.GlowProperties;
import dev.glowserve.inference.ModelRegistry;
import dev.glowserve.inference.ModelRunner;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.ExampleObject;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.annotation.PreDestroy;
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

import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** The {@code /v1} API: every operation on a model named in the path. */
@RestController
@RequestMapping("/v1/models")
@Tag(name = "models", description = "Sample, encode, decode, score, interpolate and manipulate with Glow models")
public class ModelsController {

    /** Schema of the multipart form of encode (documentation only). */
    @Schema(name = "MultipartImages")
    record MultipartImages(
            @Schema(description = "PNG files", type = "array", format = "binary") List<byte[]> images,
            @Schema(description = "Class per image (class-conditional models)") List<Integer> classes) {}

    private final ModelRegistry registry;
    private final GlowProperties.Limits limits;
    private final MeterRegistry meters;
    /** PNG encoding and response building, off the model's worker thread. */
    private final ExecutorService responses = Executors.newFixedThreadPool(
            Math.max(2, Runtime.getRuntime().availableProcessors()), r -> {
                Thread t = new Thread(r, "glow-response");
                t.setDaemon(true);
                return t;
            });

    public ModelsController(ModelRegistry registry, GlowProperties properties, MeterRegistry meters) {
        this.registry = registry;
        this.limits = properties.limits();
        this.meters = meters;
    }

    @PreDestroy
    void shutdown() {
        responses.shutdown();
    }

    // ---------------------------------------------------------------- models

    @GetMapping(produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "List the served models")
    public ModelList models() {
        return new ModelList(registry.entries().stream().map(this::info).toList());
    }

    @GetMapping(value = "/{model}", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Describe one model", description = "Architecture, image shape, n_bits, classes, device, measured bits/dim, parameter count.")
    public ModelInfo model(@PathVariable @Parameter(description = "Model name", example = "fashion-mnist") String model) {
        return info(registry.entry(model));
    }

    private ModelInfo info(ModelRegistry.Entry e) {
        if (!e.available()) {
            return new ModelInfo(e.name(), null, "unavailable", e.error(), null, null, null, null, null,
                    Devices.describe(registry.device()), null, null, null, null);
        }
        ModelRunner r = e.scheduler().runner();
        GlowConfig c = r.config();
        var m = r.manifest();
        List<List<Integer>> latentShapes = c.latentShapes().stream().map(s -> List.of(s[0], s[1], s[2])).toList();
        return new ModelInfo(e.name(), m.versionOrDefault(), e.scheduler().accepting() ? "available" : "draining", null,
                new Dtos.ArchitectureInfo(c.inChannels(), c.height(), c.width(), c.flowsPerLevel(), c.levels(),
                        c.hiddenChannels(), c.affine(), c.lu(), c.numClasses()),
                List.of(c.inChannels(), c.height(), c.width()), latentShapes, m.bits(),
                c.conditional() ? (m.classNames() != null ? m.classNames() : defaultClassNames(c)) : null,
                Devices.describe(registry.device()), m.testBitsPerDim(), m.testBitsPerDimQuantiles(),
                r.glow().parameters().trainableCount(), m.dataset());
    }

    private static List<String> defaultClassNames(GlowConfig c) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < c.numClasses(); i++) {
            names.add(Integer.toString(i));
        }
        return names;
    }

    // ---------------------------------------------------------------- sample

    private record Sampling(BatchScheduler scheduler, int n, double temperature, long seed, int[] labels, List<float[][]> eps) {}

    private Sampling sampling(String model, SampleRequest body) {
        BatchScheduler s = registry.scheduler(model);
        ModelRunner r = s.runner();
        SampleRequest req = body != null ? body : new SampleRequest(null, null, null, null, null);
        int n = req.n() == null ? 1 : req.n();
        Inputs.range("n", n, 1, limits.maxSamples());
        double t = req.temperature() == null ? 0.7 : req.temperature();
        Inputs.range("temperature", t, 0, limits.maxTemperature());
        Integer cls = Inputs.cls("class", req.cls(), r);
        long seed = req.seed() != null ? req.seed() : ThreadLocalRandom.current().nextLong(1L << 53);
        int[] labels = r.sampleLabels(n, cls, seed);
        return new Sampling(s, n, t, seed, labels, Latents.sample(r.config(), n, t, seed));
    }

    @PostMapping(value = "/{model}/sample", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Draw samples", description = "Draws eps ~ N(0, T²) from the seed and decodes it. The same seed and "
            + "temperature give the same images. With Accept: image/png the answer is one PNG grid (seed in the X-Seed header).",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(content = @Content(mediaType = "application/json",
                    examples = @ExampleObject(name = "four of class 3", value = "{\"n\": 4, \"temperature\": 0.7, \"seed\": 1, \"class\": 3}"))))
    @ApiResponse(responseCode = "200", description = "The images", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = SampleResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    public CompletableFuture<SampleResponse> sample(@PathVariable String model, @RequestBody(required = false) SampleRequest body) {
        Sampling sp = sampling(model, body);
        boolean withLatents = body != null && Boolean.TRUE.equals(body.returnLatents());
        GlowConfig c = sp.scheduler().runner().config();
        return timed("sample", model, WebConfig.track(sp.scheduler().decode(sp.eps(), sp.labels())).thenApplyAsync(images -> {
            List<ImageResult> out = new ArrayList<>();
            for (int i = 0; i < images.size(); i++) {
                out.add(new ImageResult(png(images.get(i), c), sp.labels() == null ? null : sp.labels()[i],
                        withLatents ? Inputs.nested(sp.eps().get(i), c) : null));
            }
            return new SampleResponse(model, sp.seed(), sp.temperature(), out);
        }, responses));
    }

    @PostMapping(value = "/{model}/sample", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.IMAGE_PNG_VALUE)
    @Operation(hidden = true) // documented with sample
    public CompletableFuture<ResponseEntity<byte[]>> sampleGrid(@PathVariable String model,
            @RequestBody(required = false) SampleRequest body) {
        Sampling sp = sampling(model, body);
        GlowConfig c = sp.scheduler().runner().config();
        return timed("sample", model, WebConfig.track(sp.scheduler().decode(sp.eps(), sp.labels())).thenApplyAsync(images ->
                ResponseEntity.ok().contentType(MediaType.IMAGE_PNG).header("X-Seed", Long.toString(sp.seed()))
                        .body(grid(images, c, (int) Math.ceil(Math.sqrt(images.size())))), responses));
    }

    // ---------------------------------------------------------------- encode / score

    @PostMapping(value = "/{model}/encode", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Encode images to latents", description = "Per image: the standardised latents eps of every level "
            + "(nested [C][H][W] arrays with their shapes), log p in nats and bits/dim (deterministic, mid-bin). Images come "
            + "as base64 PNGs in JSON, or as multipart/form-data file parts named 'images' (with optional 'classes' parts).",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true, content = {
                    @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesRequest.class),
                            examples = @ExampleObject(name = "one image", value = "{\"images\": [\"iVBORw0KGgoAAAANSUhEUgAA...\"]}")),
                    @Content(mediaType = "multipart/form-data", schema = @Schema(implementation = MultipartImages.class))}))
    @ApiResponse(responseCode = "200", description = "Latents and scores",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = EncodeResponse.class)))
    public CompletableFuture<EncodeResponse> encode(@PathVariable String model, @RequestBody ImagesRequest body) {
        BatchScheduler s = registry.scheduler(model);
        List<byte[]> images = Inputs.images(body.images(), s.runner(), limits);
        return encodeImages(model, s, images, Inputs.classes(body.classes(), images.size(), s.runner()));
    }

    @PostMapping(value = "/{model}/encode", consumes = MediaType.MULTIPART_FORM_DATA_VALUE, produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(hidden = true) // documented with encode
    public CompletableFuture<EncodeResponse> encodeUpload(@PathVariable String model,
            @RequestPart("images") List<MultipartFile> files,
            @RequestPart(value = "classes", required = false) List<Integer> classes) {
        BatchScheduler s = registry.scheduler(model);
        Inputs.count("images", files.size(), limits.maxImages());
        List<byte[]> images = new ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            try {
                images.add(Inputs.image("images[" + i + "]", files.get(i).getBytes(), s.runner(), limits));
            } catch (IOException e) {
                throw ApiException.badRequest("malformed-request", "images[" + i + "] could not be read");
            }
        }
        return encodeImages(model, s, images, Inputs.classes(classes, images.size(), s.runner()));
    }

    private CompletableFuture<EncodeResponse> encodeImages(String model, BatchScheduler s, List<byte[]> images, int[] labels) {
        GlowConfig c = s.runner().config();
        return timed("encode", model, WebConfig.track(s.encode(images, labels)).thenApplyAsync(enc -> new EncodeResponse(model,
                enc.stream().map(e -> new EncodeResult(Inputs.nested(e.eps(), c), e.score().logPNats(), e.score().bitsPerDim(),
                        e.score().label(), e.score().classProbabilities())).toList()), responses));
    }

    @PostMapping(value = "/{model}/log-likelihood", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Score images", description = "log p in nats and bits/dim per image, deterministic (mid-bin "
            + "dequantisation). Class-conditional models without classes give the mixture over classes and p(class | image).")
    @ApiResponse(responseCode = "200", description = "Scores",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ScoreResponse.class)))
    public CompletableFuture<ScoreResponse> logLikelihood(@PathVariable String model, @RequestBody ImagesRequest body) {
        BatchScheduler s = registry.scheduler(model);
        List<byte[]> images = Inputs.images(body.images(), s.runner(), limits);
        int[] labels = Inputs.classes(body.classes(), images.size(), s.runner());
        return timed("log-likelihood", model, WebConfig.track(s.encode(images, labels)).thenApply(enc -> new ScoreResponse(model,
                enc.stream().map(e -> new ScoreResult(e.score().logPNats(), e.score().bitsPerDim(), e.score().label(),
                        e.score().classProbabilities())).toList())));
    }

    // ---------------------------------------------------------------- decode

    private record Decoding(BatchScheduler scheduler, List<float[][]> eps, int[] labels) {}

    private Decoding decoding(String model, DecodeRequest body) {
        BatchScheduler s = registry.scheduler(model);
        ModelRunner r = s.runner();
        if (body == null || body.items() == null || body.items().isEmpty()) {
            throw ApiException.badRequest("malformed-request", "items is missing or empty");
        }
        Inputs.count("items", body.items().size(), limits.maxImages());
        List<float[][]> eps = new ArrayList<>();
        int[] labels = r.config().conditional() ? new int[body.items().size()] : null;
        for (int i = 0; i < body.items().size(); i++) {
            DecodeItem item = body.items().get(i);
            if (item == null) {
                throw ApiException.badRequest("malformed-request", "items[" + i + "] is null");
            }
            eps.add(Inputs.latents("items[" + i + "].latents", item.latents(), r, limits));
            Integer k = Inputs.cls("items[" + i + "].class", item.cls(), r);
            if (labels != null) {
                if (k == null) {
                    throw ApiException.unprocessable("missing-class", "items[" + i + "].class is required: model '" + model
                            + "' is class-conditional and its latents are relative to a class");
                }
                labels[i] = k;
            }
        }
        return new Decoding(s, eps, labels);
    }

    @PostMapping(value = "/{model}/decode", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Decode latents to images", description = "The exact inverse of encode: decode(encode(x)) = x. Each "
            + "level's eps must have the model's shape, finite values within ±glow.limits.max-latent-magnitude; class-conditional "
            + "models need each item's class. With Accept: image/png the answer is one PNG grid.")
    @ApiResponse(responseCode = "200", description = "The images", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    public CompletableFuture<ImagesResponse> decode(@PathVariable String model, @RequestBody DecodeRequest body) {
        Decoding d = decoding(model, body);
        GlowConfig c = d.scheduler().runner().config();
        return timed("decode", model, WebConfig.track(d.scheduler().decode(d.eps(), d.labels())).thenApplyAsync(images ->
                imagesResponse(model, images, c, d.labels(), null), responses));
    }

    @PostMapping(value = "/{model}/decode", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.IMAGE_PNG_VALUE)
    @Operation(hidden = true) // documented with decode
    public CompletableFuture<ResponseEntity<byte[]>> decodeGrid(@PathVariable String model, @RequestBody DecodeRequest body) {
        Decoding d = decoding(model, body);
        GlowConfig c = d.scheduler().runner().config();
        return timed("decode", model, WebConfig.track(d.scheduler().decode(d.eps(), d.labels())).thenApplyAsync(images ->
                pngResponse(grid(images, c, (int) Math.ceil(Math.sqrt(images.size())))), responses));
    }

    // ---------------------------------------------------------------- interpolate

    private record Interpolation(BatchScheduler scheduler, CompletableFuture<List<byte[]>> images) {}

    private Interpolation interpolation(String model, InterpolateRequest body) {
        BatchScheduler s = registry.scheduler(model);
        ModelRunner r = s.runner();
        if (body == null || body.from() == null || body.to() == null) {
            throw ApiException.badRequest("malformed-request", "from and to are required");
        }
        int steps = body.steps() == null ? 8 : body.steps();
        Inputs.range("steps", steps, 2, limits.maxInterpolationSteps());
        String method = body.method() == null ? "linear" : body.method();
        if (!method.equals("linear") && !method.equals("slerp")) {
            throw ApiException.unprocessable("out-of-range", "method = '" + method + "'; use linear or slerp");
        }
        boolean spherical = method.equals("slerp");
        boolean conditional = r.config().conditional();
        // checks everything before any work is queued
        Integer pathClass = Inputs.cls("class", body.cls(), r);
        Integer fromClass = Inputs.cls("from.class", body.from().cls(), r);
        Integer toClass = Inputs.cls("to.class", body.to().cls(), r);
        float[][] fromLatents = latentsEnd("from", body.from(), r);
        float[][] toLatents = latentsEnd("to", body.to(), r);
        byte[] fromImage = fromLatents == null ? Inputs.image("from.image", Inputs.base64("from.image", body.from().image()), r, limits) : null;
        byte[] toImage = toLatents == null ? Inputs.image("to.image", Inputs.base64("to.image", body.to().image()), r, limits) : null;
        if (conditional) {
            if (pathClass == null) {
                pathClass = fromClass;
            }
            if (pathClass == null && fromLatents != null) {
                throw ApiException.unprocessable("missing-class", "class (or from.class) is required when 'from' is latents "
                        + "on a class-conditional model");
            }
        }
        final Integer given = pathClass;
        // the path's class: given, or the most probable class of the 'from' image
        CompletableFuture<Integer> cls = !conditional || given != null ? CompletableFuture.completedFuture(given)
                : WebConfig.track(s.encode(List.<byte[]>of(fromImage), null)).thenApply(enc -> enc.get(0).score().label());
        CompletableFuture<List<byte[]>> images = cls.thenCompose(k -> {
            int[] one = k == null ? null : new int[] {k};
            for (Integer endClass : new Integer[] {fromLatents != null ? fromClass : null, toLatents != null ? toClass : null}) {
                if (k != null && endClass != null && !endClass.equals(k)) {
                    throw ApiException.unprocessable("class-mismatch", "latents end of class " + endClass
                            + " on a path in class " + k + "; the latents of a class-conditional model are relative to one class");
                }
            }
            CompletableFuture<float[][]> a = fromLatents != null ? CompletableFuture.completedFuture(fromLatents)
                    : s.encode(List.<byte[]>of(fromImage), one).thenApply(enc -> enc.get(0).eps());
            CompletableFuture<float[][]> b = toLatents != null ? CompletableFuture.completedFuture(toLatents)
                    : s.encode(List.<byte[]>of(toImage), one).thenApply(enc -> enc.get(0).eps());
            return a.thenCombine(b, (x, y) -> new float[][][] {x, y}).thenCompose(ends -> {
                List<float[][]> path = new ArrayList<>(steps);
                for (int i = 0; i < steps; i++) {
                    path.add(Latents.interpolate(ends[0], ends[1], i / (double) (steps - 1), spherical));
                }
                int[] labels = null;
                if (k != null) {
                    labels = new int[steps];
                    java.util.Arrays.fill(labels, k);
                }
                return s.decode(path, labels);
            });
        });
        return new Interpolation(s, images);
    }

    /** The latents of an end given as latents, or null when it is an image; exactly one must be given. */
    private float[][] latentsEnd(String field, PathEnd end, ModelRunner r) {
        boolean hasImage = end.image() != null;
        boolean hasLatents = end.latents() != null;
        if (hasImage == hasLatents) {
            throw ApiException.badRequest("malformed-request", field + " needs exactly one of image or latents");
        }
        return hasLatents ? Inputs.latents(field + ".latents", end.latents(), r, limits) : null;
    }

    @PostMapping(value = "/{model}/interpolate", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Interpolate in latent space", description = "Encodes the two ends (images or latents), mixes their eps "
            + "linearly or spherically and decodes the path, both ends included. With Accept: image/png, one PNG strip.",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(content = @Content(mediaType = "application/json",
                    examples = @ExampleObject(name = "two images", value = "{\"from\": {\"image\": \"iVBORw0KGgo...\"}, "
                            + "\"to\": {\"image\": \"iVBORw0KGgo...\"}, \"steps\": 8, \"method\": \"slerp\"}"))))
    @ApiResponse(responseCode = "200", description = "The path", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    public CompletableFuture<ImagesResponse> interpolate(@PathVariable String model, @RequestBody InterpolateRequest body) {
        Interpolation it = interpolation(model, body);
        GlowConfig c = it.scheduler().runner().config();
        return timed("interpolate", model, it.images().thenApplyAsync(images -> imagesResponse(model, images, c, null, null), responses));
    }

    @PostMapping(value = "/{model}/interpolate", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.IMAGE_PNG_VALUE)
    @Operation(hidden = true) // documented with interpolate
    public CompletableFuture<ResponseEntity<byte[]>> interpolateStrip(@PathVariable String model, @RequestBody InterpolateRequest body) {
        Interpolation it = interpolation(model, body);
        GlowConfig c = it.scheduler().runner().config();
        return timed("interpolate", model, it.images().thenApplyAsync(images -> pngResponse(grid(images, c, images.size())), responses));
    }

    // ---------------------------------------------------------------- manipulate

    @PostMapping(value = "/{model}/manipulate", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Move an image towards another class", description = "Class-conditional models. The image's latents move "
            + "along the direction between two class means, scaled (the Glow paper's attribute manipulation). The move is made "
            + "in the flow's raw latent z, which unlike eps does not depend on the class used to standardise it; the means are "
            + "measured on training images when the artifact has them, otherwise the top prior's class means are used.")
    @ApiResponse(responseCode = "200", description = "One image per scale; with Accept: image/png, one PNG strip", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    public CompletableFuture<ImagesResponse> manipulate(@PathVariable String model, @RequestBody ManipulateRequest body) {
        Manipulation m = manipulation(model, body);
        GlowConfig c = m.runner().config();
        return timed("manipulate", model, m.images().thenApplyAsync(out -> imagesResponse(model, out, c, null, m.source()), responses));
    }

    @PostMapping(value = "/{model}/manipulate", consumes = MediaType.APPLICATION_JSON_VALUE, produces = MediaType.IMAGE_PNG_VALUE)
    @Operation(hidden = true) // documented with manipulate
    public CompletableFuture<ResponseEntity<byte[]>> manipulateStrip(@PathVariable String model, @RequestBody ManipulateRequest body) {
        Manipulation m = manipulation(model, body);
        GlowConfig c = m.runner().config();
        return timed("manipulate", model, m.images().thenApplyAsync(out -> pngResponse(grid(out, c, out.size())), responses));
    }

    private record Manipulation(ModelRunner runner, CompletableFuture<List<byte[]>> images, String source) {}

    private Manipulation manipulation(String model, ManipulateRequest body) {
        BatchScheduler s = registry.scheduler(model);
        ModelRunner r = s.runner();
        if (!r.config().conditional()) {
            throw ApiException.unprocessable("not-conditional", "model '" + model + "' is not class-conditional; manipulate needs class means");
        }
        if (body == null || body.image() == null || body.toClass() == null) {
            throw ApiException.badRequest("malformed-request", "image and to_class are required");
        }
        Integer from = Inputs.cls("from_class", body.fromClass(), r);
        int to = Inputs.cls("to_class", body.toClass(), r);
        List<Double> scales = body.scales() == null ? List.of(0.0, 0.5, 1.0, 1.5) : body.scales();
        Inputs.count("scales", scales.size(), 16);
        for (int i = 0; i < scales.size(); i++) {
            if (scales.get(i) == null) {
                throw ApiException.badRequest("malformed-request", "scales[" + i + "] is null");
            }
            Inputs.range("scales[" + i + "]", scales.get(i), -4, 4);
        }
        byte[] image = Inputs.image("image", Inputs.base64("image", body.image()), r, limits);
        String source = r.hasMeasuredClassMeans() ? "class_means" : "top_prior";
        CompletableFuture<List<byte[]>> images = WebConfig.track(s.encode(List.<byte[]>of(image), from == null ? null : new int[] {from}))
                .thenCompose(enc -> {
                    int start = from != null ? from : enc.get(0).score().label();
                    float[][] dir = r.classDirection(start, to);
                    float[][] z = enc.get(0).z();
                    List<float[][]> moved = new ArrayList<>();
                    for (double a : scales) {
                        float[][] m = new float[z.length][];
                        for (int l = 0; l < z.length; l++) {
                            m[l] = new float[z[l].length];
                            for (int j = 0; j < z[l].length; j++) {
                                m[l][j] = (float) (z[l][j] + a * dir[l][j]);
                            }
                        }
                        moved.add(m);
                    }
                    return s.decodeZ(moved);
                });
        return new Manipulation(r, images, source);
    }

    // ---------------------------------------------------------------- helpers

    private static String png(byte[] pixels, GlowConfig c) {
        return Base64.getEncoder().encodeToString(Png.encode(pixels, c.inChannels(), c.height(), c.width()));
    }

    private static byte[] grid(List<byte[]> images, GlowConfig c, int columns) {
        return Png.grid(images, c.inChannels(), c.height(), c.width(), columns, 1);
    }

    private static ResponseEntity<byte[]> pngResponse(byte[] png) {
        return ResponseEntity.ok().contentType(MediaType.IMAGE_PNG).body(png);
    }

    private static ImagesResponse imagesResponse(String model, List<byte[]> images, GlowConfig c, int[] labels, String source) {
        List<ImageResult> out = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) {
            out.add(new ImageResult(png(images.get(i), c), labels == null ? null : labels[i], null));
        }
        return new ImagesResponse(model, out, source);
    }

    /** Request latency per endpoint and model, by outcome. */
    private <T> CompletableFuture<T> timed(String endpoint, String model, CompletableFuture<T> future) {
        long start = System.nanoTime();
        return future.whenComplete((v, e) -> Timer.builder("glow.requests").tag("endpoint", endpoint).tag("model", model)
                .tag("outcome", e == null ? "success" : "error")
                .description("Latency of model requests from validation to response").register(meters)
                .record(System.nanoTime() - start, TimeUnit.NANOSECONDS));
    }

}
