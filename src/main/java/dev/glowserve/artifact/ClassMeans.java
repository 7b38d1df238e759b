package dev.glowserve.artifact;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.flow.GlowConfig;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Optional {@code class_means.safetensors} beside the weights: per class, the mean of the flow's
 * raw latents z over that class's training images, one tensor {@code level.L} of shape
 * (K, C_l, H_l, W_l) per level. Attribute manipulation moves an image along mean_b − mean_a.
 */
public final class ClassMeans {

    public static final String FILE = "class_means.safetensors";

    private ClassMeans() {}

    /** means[class][level][C·H·W], or null when the artifact has none. */
    public static float[][][] read(ArtifactSource source, GlowConfig config, NDManager manager, long maxBytes) {
        byte[] bytes;
        try {
            bytes = source.read(FILE, maxBytes);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new ArtifactException(source.describe(FILE) + ": cannot read (" + ModelArtifact.reason(e) + ")", e);
        }
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> t = Safetensors.read(bytes, source.describe(FILE), scratch);
            List<int[]> shapes = config.latentShapes();
            int k = config.numClasses();
            float[][][] means = new float[k][shapes.size()][];
            for (int l = 0; l < shapes.size(); l++) {
                int[] s = shapes.get(l);
                NDArray a = t.get("level." + l);
                Shape want = new Shape(k, s[0], s[1], s[2]);
                if (a == null || !a.getShape().equals(want)) {
                    throw new ArtifactException(source.describe(FILE) + ": tensor 'level." + l + "' must have shape " + want
                            + (a == null ? " (missing)" : ", has " + a.getShape()));
                }
                float[] v = a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
                int per = s[0] * s[1] * s[2];
                for (int c = 0; c < k; c++) {
                    means[c][l] = java.util.Arrays.copyOfRange(v, c * per, (c + 1) * per);
                    for (float x : means[c][l]) {
                        if (!Float.isFinite(x)) {
                            throw new ArtifactException(source.describe(FILE) + ": tensor 'level." + l + "' holds " + x);
                        }
                    }
                }
            }
            return means;
        }
    }

    public static void write(Path dir, GlowConfig config, float[][][] means, NDManager manager) throws IOException {
        List<int[]> shapes = config.latentShapes();
        int k = means.length;
        try (NDManager scratch = manager.newSubManager()) {
            NDList list = new NDList();
            for (int l = 0; l < shapes.size(); l++) {
                int[] s = shapes.get(l);
                int per = s[0] * s[1] * s[2];
                float[] flat = new float[k * per];
                for (int c = 0; c < k; c++) {
                    System.arraycopy(means[c][l], 0, flat, c * per, per);
                }
                NDArray a = scratch.create(flat, new Shape(k, s[0], s[1], s[2]));
                a.setName("level." + l);
                list.add(a);
            }
            AtomicFiles.write(dir.resolve(FILE), Safetensors.encode(list));
        }
    }
}
