package dev.glowserve.artifact;

import com.fasterxml.jackson.annotation.JsonProperty;
import tools.jackson.core.JacksonException;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How a model scores images it was trained to model, for out-of-distribution answers: each method's scores on
 * held-out in-distribution images, sorted, so that an image's p-value is the fraction of them at least as high
 * (the whole list, not quantiles: 5,000 images resolve p-values to 0.0002). Stored as {@code calibration.json}
 * next to the manifest.
 */
public record Calibration(
        @JsonProperty("source") String source,
        @JsonProperty("images") int images,
        @JsonProperty("compressor") String compressor,
        @JsonProperty("mean_bits_per_dim") double meanBitsPerDim,
        @JsonProperty("scores") Map<String, double[]> scores) {

    public static final String FILE = "calibration.json";
    /** Held-out scores of a few methods: a few hundred kB; far more is not a calibration. */
    private static final long MAX_BYTES = 64L << 20;

    /** The held-out scores of a method, sorted ascending; null if the calibration has none for it. */
    public double[] sorted(String method) {
        return scores.get(method);
    }

    /** Reads and checks the calibration of an artifact; null when it has none. */
    public static Calibration read(ArtifactSource source) {
        String file = source.describe(FILE);
        Calibration c;
        try {
            c = ModelArtifact.JSON.readValue(source.read(FILE, MAX_BYTES), Calibration.class);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new ArtifactException(file + ": cannot read (" + ModelArtifact.reason(e) + ")", e);
        } catch (JacksonException e) {
            throw new ArtifactException(file + ": not a valid calibration (" + ModelArtifact.jsonProblem(e) + ")");
        }
        if (c == null || c.scores() == null || c.scores().isEmpty()) {
            throw new ArtifactException(file + ": no scores");
        }
        if (c.compressor() == null) {
            throw new ArtifactException(file + ": field 'compressor' is missing");
        }
        for (Map.Entry<String, double[]> e : c.scores().entrySet()) {
            double[] v = e.getValue();
            if (v == null || v.length != c.images()) {
                throw new ArtifactException(file + ": scores." + e.getKey() + " has " + (v == null ? 0 : v.length)
                        + " values for " + c.images() + " images");
            }
            for (int i = 0; i < v.length; i++) {
                if (!Double.isFinite(v[i]) || (i > 0 && v[i] < v[i - 1])) {
                    throw new ArtifactException(file + ": scores." + e.getKey() + " must be finite and sorted ascending (at " + i + ")");
                }
            }
        }
        return c;
    }

    /** Writes the calibration into a model folder, atomically. */
    public void write(Path dir) throws IOException {
        AtomicFiles.write(dir.resolve(FILE), ModelArtifact.JSON.writeValueAsBytes(this));
    }

    /** A calibration of {@code scores} per method (each sorted here) over {@code images} held-out images. */
    public static Calibration of(String source, String compressor, double meanBitsPerDim, Map<String, double[]> unsorted) {
        Map<String, double[]> sorted = new LinkedHashMap<>();
        int n = -1;
        for (Map.Entry<String, double[]> e : unsorted.entrySet()) {
            double[] v = e.getValue().clone();
            Arrays.sort(v);
            sorted.put(e.getKey(), v);
            n = v.length;
        }
        return new Calibration(source, n, compressor, meanBitsPerDim, sorted);
    }
}
