package dev.glowserve.api;

import dev.glowserve.api.V2Tensors.Output;
import dev.glowserve.api.V2Tensors.Tensor;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.ood.OutOfDistribution;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.serving.GlowProperties;
import dev.glowserve.serving.LatentService.Target;
import dev.glowserve.serving.LatentService;
import dev.glowserve.serving.RequestWork;
import dev.glowserve.serving.ServedModel;
import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * How a served Glow model appears in the Open Inference Protocol: four models per served model {@code m}, with
 * fixed tensor names — {@code m} scores images, {@code m-encode} gives their latents, {@code m-decode} turns latents
 * back into images and {@code m-sample} draws images — each computed by {@link LatentService} exactly as {@code /v1}
 * computes it.
 *
 * <p>Over 300 lines because the four models' metadata, inputs and outputs are written next to each other, so one file
 * shows the whole V2 face of a model.
 */
final class V2Models {

    /** What a protocol model does. */
    enum Kind {
        SCORE(""), ENCODE("-encode"), DECODE("-decode"), SAMPLE("-sample"), OOD("-ood");

        final String suffix;

        Kind(String suffix) {
            this.suffix = suffix;
        }
    }

    /** A protocol model name resolved: the served model and what to do with it. */
    record Name(String served, Kind kind) {
        String protocolName() {
            return served + kind.suffix;
        }
    }

    /** A tensor's metadata: name, datatype and shape, -1 where the size varies. */
    record Spec(String name, V2Datatype datatype, long[] shape) {}

    private V2Models() {}

    /**
     * The served model and kind a protocol name means: the longest suffix that leaves a served model's name (a served
     * model may itself be named like another's encoder).
     */
    static Name resolve(String protocolName, Set<String> served) {
        if (served.contains(protocolName)) {
            return new Name(protocolName, Kind.SCORE);
        }
        for (Kind k : new Kind[] {Kind.ENCODE, Kind.DECODE, Kind.SAMPLE, Kind.OOD}) {
            if (protocolName.endsWith(k.suffix)) {
                String base = protocolName.substring(0, protocolName.length() - k.suffix.length());
                if (served.contains(base)) {
                    return new Name(base, k);
                }
            }
        }
        return new Name(protocolName, Kind.SCORE); // unknown: the registry answers 404 naming the served models
    }

    static List<Spec> inputs(Kind kind, GlowConfig c) {
        List<Spec> in = new ArrayList<>();
        switch (kind) {
            case SCORE, OOD -> in.add(images(c));
            case ENCODE -> {
                in.add(images(c));
                if (c.conditional()) {
                    in.add(new Spec("CLASS", V2Datatype.INT64, new long[] {-1}));
                }
            }
            case DECODE -> {
                in.addAll(latents(c));
                if (c.conditional()) {
                    in.add(new Spec("CLASS", V2Datatype.INT64, new long[] {-1}));
                }
            }
            case SAMPLE -> {
                in.add(new Spec("TEMPERATURE", V2Datatype.FP32, new long[] {-1}));
                in.add(new Spec("SEED", V2Datatype.INT64, new long[] {1}));
                if (c.conditional()) {
                    in.add(new Spec("CLASS", V2Datatype.INT64, new long[] {-1}));
                }
            }
        }
        return in;
    }

    /** The outputs of {@code kind}; {@code screened}: the model's ood-policy adds each input's verdict to score and encode. */
    static List<Spec> outputs(Kind kind, GlowConfig c, boolean screened) {
        List<Spec> out = outputs(kind, c);
        if (screened && (kind == Kind.SCORE || kind == Kind.ENCODE)) {
            out.add(new Spec("OOD_P_VALUE", V2Datatype.FP64, new long[] {-1}));
            out.add(new Spec("OOD_OUTLIER", V2Datatype.BOOL, new long[] {-1}));
        }
        return out;
    }

    static List<Spec> outputs(Kind kind, GlowConfig c) {
        List<Spec> out = new ArrayList<>();
        switch (kind) {
            case SCORE -> {
                out.add(new Spec("LOG_P_NATS", V2Datatype.FP64, new long[] {-1}));
                out.add(new Spec("BITS_PER_DIM", V2Datatype.FP64, new long[] {-1}));
                if (c.conditional()) {
                    out.add(new Spec("CLASS_PROBABILITIES", V2Datatype.FP64, new long[] {-1, c.numClasses()}));
                }
            }
            case ENCODE -> {
                out.addAll(latents(c));
                out.add(new Spec("LOG_P_NATS", V2Datatype.FP64, new long[] {-1}));
                out.add(new Spec("BITS_PER_DIM", V2Datatype.FP64, new long[] {-1}));
                if (c.conditional()) { // the class the latents are relative to, which decode needs back
                    out.add(new Spec("CLASS", V2Datatype.INT64, new long[] {-1}));
                }
            }
            case DECODE, SAMPLE -> out.add(images(c));
            case OOD -> {
                out.add(new Spec("SCORE", V2Datatype.FP64, new long[] {-1}));
                out.add(new Spec("P_VALUE", V2Datatype.FP64, new long[] {-1}));
                out.add(new Spec("OUTLIER", V2Datatype.BOOL, new long[] {-1}));
            }
        }
        return out;
    }

    private static Spec images(GlowConfig c) {
        return new Spec("IMAGES", V2Datatype.UINT8, new long[] {-1, c.inChannels(), c.height(), c.width()});
    }

    private static List<Spec> latents(GlowConfig c) {
        List<Spec> out = new ArrayList<>();
        List<int[]> shapes = c.latentShapes();
        for (int l = 0; l < shapes.size(); l++) {
            int[] s = shapes.get(l);
            out.add(new Spec("EPS_" + l, V2Datatype.FP32, new long[] {-1, s[0], s[1], s[2]}));
        }
        return out;
    }

    /** The outputs (all of them, in the contract's order) of one inference request. */
    static CompletableFuture<Map<String, Output>> infer(LatentService latents, Target t, Kind kind, V2Tensors.Request request,
            RequestWork work) {
        Map<String, Tensor> inputs = request.inputs();
        ServedModel.View r = t.view();
        GlowConfig c = r.config();
        checkInputs(kind, c, inputs);
        GlowProperties.Limits limits = latents.limits();
        return switch (kind) {
            case SCORE, ENCODE -> {
                List<byte[]> images = images(inputs.get("IMAGES"), c, limits.maxImages());
                int[] labels = kind == Kind.ENCODE ? classes(inputs.get("CLASS"), images.size(), r) : null;
                JsonNode policy = request.parameters().get("ood_policy");
                if (policy != null && !policy.isString()) {
                    throw ClientError.malformed("parameters.ood_policy must be off, flag or reject");
                }
                yield latents.encode(t, images, labels, Inputs.oodPolicy(policy == null ? null : policy.asString()), work)
                        .thenApply(screened -> encoded(kind, c, screened));
            }
            case DECODE -> {
                List<float[][]> eps = eps(inputs, c, limits);
                int[] labels = classes(inputs.get("CLASS"), eps.size(), r);
                if (c.conditional() && labels == null) {
                    throw ClientError.malformed("input 'CLASS' is required: model '" + t.model()
                            + "' is class-conditional and its latents are relative to a class");
                }
                yield latents.decode(t, eps, labels, work).thenApply(images -> Map.of("IMAGES", imagesOut(images, c)));
            }
            case OOD -> {
                List<byte[]> images = images(inputs.get("IMAGES"), c, limits.maxImages());
                JsonNode method = request.parameters().get("method");
                JsonNode alpha = request.parameters().get("alpha");
                if (method != null && !method.isString()) {
                    throw ClientError.malformed("parameters.method must be one of " + OutOfDistribution.IDS);
                }
                if (alpha != null && !alpha.isNumber()) {
                    throw ClientError.malformed("parameters.alpha must be a number in (0, 1)");
                }
                yield latents.outOfDistribution(t, images, method == null ? null : method.asString(),
                        alpha == null ? null : alpha.asDouble(), work).thenApply(V2Models::verdicts);
            }
            case SAMPLE -> {
                float[] temperatures = inputs.get("TEMPERATURE").floats();
                Tensor seed = inputs.get("SEED");
                Long s = seed == null ? null : seed.longs()[0];
                Tensor cls = inputs.get("CLASS");
                int[] labels = cls == null ? null : classes(cls, temperatures.length, r);
                yield latents.sample(t, temperatures, s, labels, work).images()
                        .thenApply(images -> Map.of("IMAGES", imagesOut(images, c)));
            }
        };
    }

    /** Every required input there, nothing unknown, each of its datatype and shape. */
    private static void checkInputs(Kind kind, GlowConfig c, Map<String, Tensor> inputs) {
        Map<String, Spec> specs = new LinkedHashMap<>();
        inputs(kind, c).forEach(s -> specs.put(s.name(), s));
        for (Tensor t : inputs.values()) {
            Spec s = specs.get(t.name());
            if (s == null) {
                throw ClientError.malformed("unknown input '" + t.name() + "'; this model takes " + specs.keySet());
            }
            if (t.datatype() != s.datatype()) {
                throw ClientError.malformed("input '" + t.name() + "' must be " + s.datatype() + ", not " + t.datatype());
            }
            boolean fits = t.shape().length == s.shape().length;
            for (int i = 0; fits && i < s.shape().length; i++) {
                fits = s.shape()[i] < 0 ? t.shape()[i] > 0 : t.shape()[i] == s.shape()[i];
            }
            if (!fits) {
                throw ClientError.malformed("input '" + t.name() + "' has shape " + java.util.Arrays.toString(t.shape())
                        + "; expected " + java.util.Arrays.toString(s.shape()) + " (-1: any size from 1)");
            }
        }
        for (Spec s : specs.values()) {
            boolean optional = s.name().equals("CLASS") || s.name().equals("SEED");
            if (!optional && !inputs.containsKey(s.name())) {
                throw ClientError.malformed("missing input '" + s.name() + "'; this model takes " + specs.keySet());
            }
        }
    }

    private static List<byte[]> images(Tensor t, GlowConfig c, int max) {
        int n = (int) t.shape()[0];
        if (n > max) {
            throw ClientError.malformed("input 'IMAGES' has " + n + " images; at most " + max + " a request");
        }
        byte[] all = t.bytes();
        int d = c.dimensions();
        List<byte[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(java.util.Arrays.copyOfRange(all, i * d, (i + 1) * d));
        }
        return out;
    }

    private static int[] classes(Tensor t, int n, ServedModel.View r) {
        if (t == null) {
            return null;
        }
        long[] v = t.longs();
        if (v.length != n && v.length != 1) {
            throw ClientError.malformed("input 'CLASS' has " + v.length + " entries for " + n + " images (or give one for all)");
        }
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            long k = v[v.length == 1 ? 0 : i];
            ClientError.range("input 'CLASS'[" + i + "]", k, 0, r.config().numClasses() - 1);
            out[i] = (int) k;
        }
        return out;
    }

    private static List<float[][]> eps(Map<String, Tensor> inputs, GlowConfig c, GlowProperties.Limits limits) {
        int levels = c.levels();
        int n = -1;
        for (int l = 0; l < levels; l++) {
            int ln = (int) inputs.get("EPS_" + l).shape()[0];
            if (n >= 0 && ln != n) {
                throw ClientError.malformed("input 'EPS_" + l + "' has " + ln + " images, 'EPS_0' " + n);
            }
            n = ln;
        }
        if (n > limits.maxImages()) {
            throw ClientError.malformed("the latents hold " + n + " images; at most " + limits.maxImages() + " a request");
        }
        List<float[][]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(new float[levels][]);
        }
        double bound = limits.maxLatentMagnitude();
        for (int l = 0; l < levels; l++) {
            float[] all = inputs.get("EPS_" + l).floats();
            int per = all.length / n;
            for (int j = 0; j < all.length; j++) {
                if (!Float.isFinite(all[j]) || Math.abs(all[j]) > bound) {
                    throw ClientError.malformed("input 'EPS_" + l + "'[" + j + "] = " + all[j]
                            + "; latents must be finite and within ±" + bound);
                }
            }
            for (int i = 0; i < n; i++) {
                out.get(i)[l] = java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per);
            }
        }
        return out;
    }

    private static Map<String, Output> encoded(Kind kind, GlowConfig c, LatentService.Screened screened) {
        List<ModelRunner.Encoded> enc = screened.encoded();
        int n = enc.size();
        double[] logP = new double[n];
        double[] bpd = new double[n];
        for (int i = 0; i < n; i++) {
            logP[i] = enc.get(i).score().logPNats();
            bpd[i] = enc.get(i).score().bitsPerDim();
        }
        Map<String, Output> out = new LinkedHashMap<>();
        if (kind == Kind.ENCODE) {
            List<int[]> shapes = c.latentShapes();
            for (int l = 0; l < shapes.size(); l++) {
                int[] s = shapes.get(l);
                int per = s[0] * s[1] * s[2];
                float[] all = new float[n * per];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(enc.get(i).eps()[l], 0, all, i * per, per);
                }
                out.put("EPS_" + l, new Output("EPS_" + l, new long[] {n, s[0], s[1], s[2]}, new V2Values.Floats(all)));
            }
        }
        out.put("LOG_P_NATS", new Output("LOG_P_NATS", new long[] {n}, new V2Values.Doubles(logP)));
        out.put("BITS_PER_DIM", new Output("BITS_PER_DIM", new long[] {n}, new V2Values.Doubles(bpd)));
        if (kind == Kind.ENCODE && c.conditional()) {
            long[] classes = new long[n];
            for (int i = 0; i < n; i++) {
                classes[i] = enc.get(i).score().label();
            }
            out.put("CLASS", new Output("CLASS", new long[] {n}, new V2Values.Longs(classes)));
        }
        if (kind == Kind.SCORE && c.conditional()) {
            int k = c.numClasses();
            double[] p = new double[n * k];
            for (int i = 0; i < n; i++) {
                System.arraycopy(enc.get(i).score().classProbabilities(), 0, p, i * k, k);
            }
            out.put("CLASS_PROBABILITIES", new Output("CLASS_PROBABILITIES", new long[] {n, k}, new V2Values.Doubles(p)));
        }
        if (screened.checks() != null) { // ood-policy flag or reject: each input against the calibration
            double[] p = new double[n];
            boolean[] outlier = new boolean[n];
            for (int i = 0; i < n; i++) {
                p[i] = screened.checks().get(i).pValue();
                outlier[i] = screened.checks().get(i).outlier();
            }
            out.put("OOD_P_VALUE", new Output("OOD_P_VALUE", new long[] {n}, new V2Values.Doubles(p)));
            out.put("OOD_OUTLIER", new Output("OOD_OUTLIER", new long[] {n}, new V2Values.Bools(outlier)));
        }
        return out;
    }

    private static Map<String, Output> verdicts(OutOfDistribution.Verdicts v) {
        int n = v.images().size();
        double[] score = new double[n];
        double[] p = new double[n];
        boolean[] outlier = new boolean[n];
        for (int i = 0; i < n; i++) {
            score[i] = v.images().get(i).score();
            p[i] = v.images().get(i).pValue();
            outlier[i] = v.images().get(i).outlier();
        }
        Map<String, Output> out = new LinkedHashMap<>();
        out.put("SCORE", new Output("SCORE", new long[] {n}, new V2Values.Doubles(score)));
        out.put("P_VALUE", new Output("P_VALUE", new long[] {n}, new V2Values.Doubles(p)));
        out.put("OUTLIER", new Output("OUTLIER", new long[] {n}, new V2Values.Bools(outlier)));
        return out;
    }

    private static Output imagesOut(List<byte[]> images, GlowConfig c) {
        int d = c.dimensions();
        byte[] all = new byte[images.size() * d];
        for (int i = 0; i < images.size(); i++) {
            System.arraycopy(images.get(i), 0, all, i * d, d);
        }
        return new Output("IMAGES", new long[] {images.size(), c.inChannels(), c.height(), c.width()}, new V2Values.Bytes(all));
    }
}
