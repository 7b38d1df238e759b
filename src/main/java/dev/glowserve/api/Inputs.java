package dev.glowserve.api;

import dev.glowserve.data.DataException;
import dev.glowserve.data.Png;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.serving.GlowProperties;
import dev.glowserve.serving.ServedModel;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** Turns request fields into model inputs, or into a 400/422 that names the field and the fix. */
final class Inputs {

    private Inputs() {}

    static String shapeText(GlowConfig c) {
        return c.width() + "×" + c.height() + " " + (c.inChannels() == 1 ? "grayscale" : c.inChannels() == 3 ? "RGB" : c.inChannels() + "-channel");
    }

    static byte[] base64(String field, String value) {
        if (value == null || value.isEmpty()) {
            throw ClientError.malformed(field + " is missing");
        }
        String v = value;
        int comma = v.indexOf(',');
        if (v.startsWith("data:") && comma > 0) { // accept data URLs as browsers produce them
            v = v.substring(comma + 1);
        }
        try {
            return Base64.getMimeDecoder().decode(v);
        } catch (IllegalArgumentException e) {
            throw ClientError.malformed(field + " is not valid base64");
        }
    }

    /** PNG bytes → pixels of the model's shape (gray↔RGB only where nothing is lost). */
    static byte[] image(String field, byte[] png, ServedModel.View runner, GlowProperties.Limits limits) {
        return image(field, png, runner, limits, null);
    }

    /**
     * PNG bytes → pixels of the model's shape; with {@code fitted} (the request's {@code fit}), an image of another
     * size or colour is fitted to it (Png.Image#fitTo) and what was done is added to {@code fitted}, instead of a 422.
     */
    static byte[] image(String field, byte[] png, ServedModel.View runner, GlowProperties.Limits limits, List<String> fitted) {
        GlowConfig c = runner.config();
        Png.Image img;
        try {
            img = Png.decode(png, limits.maxImagePixels());
        } catch (DataException e) {
            throw ClientError.unprocessable("invalid-image", field + ": " + e.getMessage());
        }
        boolean fits = img.height() == c.height() && img.width() == c.width() && (img.channels() == c.inChannels() || img.isGray());
        if (!fits && fitted != null) {
            Png.Image fit = img.fitTo(c.inChannels(), c.height(), c.width());
            fitted.add(field + ": " + img.width() + "×" + img.height() + " " + kind(img.channels(), img.isGray()) + " fitted to "
                    + shapeText(c) + " (" + (img.channels() != c.inChannels() && !img.isGray() ? "luma, " : "")
                    + "scaled to fit, centred on black)");
            return fit.pixels();
        }
        if (img.height() != c.height() || img.width() != c.width()) {
            throw ClientError.unprocessable("wrong-shape", field + ": image is " + img.width() + "×" + img.height()
                    + " but model '" + runner.name() + "' takes " + shapeText(c) + " images (\"fit\": true fits it)");
        }
        try {
            return img.withChannels(c.inChannels()).pixels();
        } catch (DataException e) {
            throw ClientError.unprocessable("wrong-shape", field + ": " + e.getMessage() + "; model '" + runner.name()
                    + "' takes " + shapeText(c) + " images (\"fit\": true fits it)");
        }
    }

    private static String kind(int channels, boolean gray) {
        return channels == 1 ? "grayscale" : gray ? "gray RGB" : "RGB";
    }

    static List<byte[]> images(List<String> encoded, ServedModel.View runner, GlowProperties.Limits limits) {
        return images(encoded, runner, limits, null);
    }

    /** The request's images; {@code fitted} non-null: fit those of another shape, saying so there. */
    static List<byte[]> images(List<String> encoded, ServedModel.View runner, GlowProperties.Limits limits, List<String> fitted) {
        if (encoded == null || encoded.isEmpty()) {
            throw ClientError.malformed("images is missing or empty");
        }
        count("images", encoded.size(), limits.maxImages());
        List<byte[]> out = new ArrayList<>(encoded.size());
        for (int i = 0; i < encoded.size(); i++) {
            String f = "images[" + i + "]";
            out.add(image(f, base64(f, encoded.get(i)), runner, limits, fitted));
        }
        return out;
    }

    /** Where a request with {@code "fit": true} collects what was fitted; null when it did not ask. */
    static List<String> fitted(Boolean fit) {
        return Boolean.TRUE.equals(fit) ? new ArrayList<>() : null;
    }

    /** The response's {@code fitted}: absent when nothing was. */
    /** A request's ood_policy: off, flag or reject; null when absent (the model's applies). */
    static GlowProperties.OodPolicy oodPolicy(String value) {
        if (value == null) {
            return null;
        }
        for (GlowProperties.OodPolicy p : GlowProperties.OodPolicy.values()) {
            if (p.name().equalsIgnoreCase(value)) {
                return p;
            }
        }
        throw ClientError.malformed("ood_policy is '" + (value.length() > 20 ? value.substring(0, 20) + "..." : value)
                + "'; use off, flag or reject");
    }

    static List<String> orNone(List<String> fitted) {
        return fitted == null || fitted.isEmpty() ? null : List.copyOf(fitted);
    }

    /** Uploaded PNG files (multipart parts), each checked and decoded like a base64 image. */
    static List<byte[]> uploads(List<org.springframework.web.multipart.MultipartFile> files, ServedModel.View runner,
            GlowProperties.Limits limits) {
        count("images", files.size(), limits.maxImages());
        List<byte[]> images = new java.util.ArrayList<>();
        for (int i = 0; i < files.size(); i++) {
            try {
                images.add(image("images[" + i + "]", files.get(i).getBytes(), runner, limits));
            } catch (java.io.IOException e) {
                throw ClientError.malformed("images[" + i + "] could not be read");
            }
        }
        return images;
    }

    static void count(String field, int n, int max) {
        if (n < 1 || n > max) {
            throw ClientError.unprocessable("out-of-range", field + " has " + n + " entries; allowed 1.." + max);
        }
    }


    /** A class id for a conditional model; absent is allowed where the model can do without. */
    static Integer cls(String field, Integer value, ServedModel.View runner) {
        return ClientError.checkedClass(runner.config(), runner.name(), field, value);
    }

    /** Per-image classes, or null; the list must match the images one to one. */
    static int[] classes(List<Integer> classes, int n, ServedModel.View runner) {
        if (classes == null) {
            return null;
        }
        if (classes.size() != n) {
            throw ClientError.unprocessable("out-of-range", "classes has " + classes.size() + " entries for " + n + " images");
        }
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            Integer k = cls("classes[" + i + "]", classes.get(i), runner);
            if (k == null) {
                throw ClientError.malformed("classes[" + i + "] is null");
            }
            out[i] = k;
        }
        return out;
    }

    /** A decode request's latents and, for a class-conditional model, each item's class. */
    record Items(List<float[][]> eps, int[] labels) {}

    static Items items(Dtos.DecodeRequest body, ServedModel.View r, GlowProperties.Limits limits) {
        if (body == null || body.items() == null || body.items().isEmpty()) {
            throw ClientError.malformed("items is missing or empty");
        }
        count("items", body.items().size(), limits.maxImages());
        List<float[][]> eps = new ArrayList<>();
        int[] labels = r.config().conditional() ? new int[body.items().size()] : null;
        for (int i = 0; i < body.items().size(); i++) {
            Dtos.DecodeItem item = body.items().get(i);
            if (item == null) {
                throw ClientError.malformed("items[" + i + "] is null");
            }
            eps.add(latents("items[" + i + "].latents", item.latents(), r, limits));
            Integer k = cls("items[" + i + "].class", item.cls(), r);
            if (labels != null) {
                if (k == null) {
                    throw ClientError.unprocessable("missing-class", "items[" + i + "].class is required: model '" + r.name()
                            + "' is class-conditional and its latents are relative to a class");
                }
                labels[i] = k;
            }
        }
        return new Items(eps, labels);
    }

    /** One image's latents, checked level by level against the model's shapes, finite and bounded. */
    static float[][] latents(String field, List<Dtos.Latent> levels, ServedModel.View runner, GlowProperties.Limits limits) {
        GlowConfig c = runner.config();
        List<int[]> shapes = c.latentShapes();
        if (levels == null) {
            throw ClientError.malformed(field + " is missing");
        }
        if (levels.size() != shapes.size()) {
            throw ClientError.unprocessable("wrong-shape", field + " has " + levels.size() + " levels; model '"
                    + runner.name() + "' has " + shapes.size());
        }
        float[][] out = new float[shapes.size()][];
        double bound = limits.maxLatentMagnitude();
        for (int l = 0; l < shapes.size(); l++) {
            int[] s = shapes.get(l);
            String f = field + "[" + l + "].eps";
            Dtos.Latent level = levels.get(l);
            float[][][] eps = level == null ? null : level.eps();
            if (eps == null) {
                throw ClientError.malformed(f + " is missing");
            }
            String want = "[" + s[0] + ", " + s[1] + ", " + s[2] + "]";
            if (eps.length != s[0]) {
                throw ClientError.unprocessable("wrong-shape", f + " has " + eps.length + " channels; expected shape " + want);
            }
            float[] flat = new float[s[0] * s[1] * s[2]];
            int k = 0;
            for (int ch = 0; ch < s[0]; ch++) {
                if (eps[ch] == null || eps[ch].length != s[1]) {
                    throw ClientError.unprocessable("wrong-shape", f + "[" + ch + "] has the wrong height; expected shape " + want);
                }
                for (int y = 0; y < s[1]; y++) {
                    float[] row = eps[ch][y];
                    if (row == null || row.length != s[2]) {
                        throw ClientError.unprocessable("wrong-shape", f + "[" + ch + "][" + y + "] has the wrong width; expected shape " + want);
                    }
                    for (int x = 0; x < s[2]; x++) {
                        float v = row[x];
                        if (!Float.isFinite(v) || Math.abs(v) > bound) {
                            throw ClientError.unprocessable("invalid-latents", f + "[" + ch + "][" + y + "][" + x + "] = " + v
                                    + "; latents must be finite and within ±" + bound);
                        }
                        flat[k++] = v;
                    }
                }
            }
            out[l] = flat;
        }
        return out;
    }

    /** Flat per-level latents → the API's nested form. */
    static List<Dtos.Latent> nested(float[][] latents, GlowConfig c) {
        List<int[]> shapes = c.latentShapes();
        List<Dtos.Latent> out = new ArrayList<>(shapes.size());
        for (int l = 0; l < shapes.size(); l++) {
            int[] s = shapes.get(l);
            float[][][] e = new float[s[0]][s[1]][s[2]];
            int k = 0;
            for (int ch = 0; ch < s[0]; ch++) {
                for (int y = 0; y < s[1]; y++) {
                    for (int x = 0; x < s[2]; x++) {
                        e[ch][y][x] = latents[l][k++];
                    }
                }
            }
            out.add(new Dtos.Latent(List.of(s[0], s[1], s[2]), e));
        }
        return out;
    }
}
