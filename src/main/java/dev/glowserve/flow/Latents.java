package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The one public latent space (docs/DESIGN.md): per image, the standardised eps of every level,
 * held as {@code float[level][C·H·W]}. Sampling draws from {@code java.util.Random} one image
 * after another, so a seed gives the same images whatever the batch around it.
 */
public final class Latents {

    private Latents() {}

    public static int[] sizes(GlowConfig config) {
        List<int[]> shapes = config.latentShapes();
        int[] sizes = new int[shapes.size()];
        for (int l = 0; l < sizes.length; l++) {
            int[] s = shapes.get(l);
            sizes[l] = s[0] * s[1] * s[2];
        }
        return sizes;
    }

    /** eps ~ N(0, T²) for one image; T = 0 gives the prior mean. */
    public static float[][] sample(GlowConfig config, double temperature, Random random) {
        int[] sizes = sizes(config);
        float[][] eps = new float[sizes.length][];
        for (int l = 0; l < sizes.length; l++) {
            eps[l] = new float[sizes[l]];
            for (int j = 0; j < sizes[l]; j++) {
                eps[l][j] = (float) (temperature * random.nextGaussian());
            }
        }
        return eps;
    }

    /** n images from one seed: image i is the same as the i-th of any larger draw with that seed. */
    public static List<float[][]> sample(GlowConfig config, int n, double temperature, long seed) {
        double[] t = new double[n];
        java.util.Arrays.fill(t, temperature);
        return sample(config, t, seed);
    }

    /** One image per temperature from one seed, drawn as {@link #sample(GlowConfig, int, double, long)} draws them. */
    public static List<float[][]> sample(GlowConfig config, double[] temperatures, long seed) {
        Random random = new Random(seed);
        List<float[][]> out = new ArrayList<>(temperatures.length);
        for (double t : temperatures) {
            out.add(sample(config, t, random));
        }
        return out;
    }

    /**
     * Classes for {@code n} samples of a class-conditional model: {@code cls} for each, or classes drawn from
     * {@code seed} (a stream apart from the latents'); null for an unconditional model, which takes no class.
     */
    public static int[] sampleLabels(GlowConfig config, int n, Integer cls, long seed) {
        if (!config.conditional()) {
            if (cls != null) {
                throw new IllegalArgumentException("model is unconditional: no class can be chosen");
            }
            return null;
        }
        int[] labels = new int[n];
        Random r = new Random(seed ^ 0x9E3779B97F4A7C15L);
        for (int i = 0; i < n; i++) {
            labels[i] = cls != null ? cls : r.nextInt(config.numClasses());
        }
        return labels;
    }

    /**
     * The step in raw latent z from class {@code from} to class {@code to}: the difference of the measured class means
     * ({@code classMeans[class][level][j]}) where there are some, else of the top prior's class means (the other
     * levels then stay put).
     */
    public static float[][] classDirection(Glow glow, float[][][] classMeans, int from, int to) {
        GlowConfig c = glow.config();
        if (!c.conditional()) {
            throw new IllegalArgumentException("model is not class-conditional");
        }
        for (int k : new int[] {from, to}) {
            if (k < 0 || k >= c.numClasses()) {
                throw new IllegalArgumentException("class " + k + " is outside 0.." + (c.numClasses() - 1));
            }
        }
        int[] sizes = sizes(c);
        float[][] d = new float[sizes.length][];
        for (int l = 0; l < sizes.length; l++) {
            d[l] = new float[sizes[l]];
        }
        if (classMeans != null) {
            for (int l = 0; l < sizes.length; l++) {
                for (int j = 0; j < sizes[l]; j++) {
                    d[l][j] = classMeans[to][l][j] - classMeans[from][l][j];
                }
            }
            return d;
        }
        float[][] top = glow.topPriorMeans();
        int last = sizes.length - 1;
        for (int j = 0; j < sizes[last]; j++) {
            d[last][j] = top[to][j] - top[from][j];
        }
        return d;
    }

    /**
     * A point on the path from a to b at t ∈ [0, 1], the whole eps of an image taken as one vector.
     * Spherical interpolation keeps the norm where linear mixing shrinks it toward the mode.
     */
    public static float[][] interpolate(float[][] a, float[][] b, double t, boolean spherical) {
        double wa = 1 - t, wb = t;
        if (spherical) {
            double dot = 0, na = 0, nb = 0;
            for (int l = 0; l < a.length; l++) {
                for (int j = 0; j < a[l].length; j++) {
                    dot += (double) a[l][j] * b[l][j];
                    na += (double) a[l][j] * a[l][j];
                    nb += (double) b[l][j] * b[l][j];
                }
            }
            double denom = Math.sqrt(na * nb);
            double cos = denom == 0 ? 1 : Math.max(-1, Math.min(1, dot / denom));
            double omega = Math.acos(cos);
            if (omega > 1e-6) {
                wa = Math.sin((1 - t) * omega) / Math.sin(omega);
                wb = Math.sin(t * omega) / Math.sin(omega);
            }
        }
        float[][] out = new float[a.length][];
        for (int l = 0; l < a.length; l++) {
            out[l] = new float[a[l].length];
            for (int j = 0; j < a[l].length; j++) {
                out[l][j] = (float) (wa * a[l][j] + wb * b[l][j]);
            }
        }
        return out;
    }

    /** Images' latents → one (B, C_l, H_l, W_l) tensor per level. */
    public static NDList toTensors(NDManager manager, GlowConfig config, List<float[][]> images, DataType dataType) {
        List<int[]> shapes = config.latentShapes();
        int[] sizes = sizes(config);
        NDList out = new NDList();
        for (int l = 0; l < shapes.size(); l++) {
            float[] flat = new float[images.size() * sizes[l]];
            for (int i = 0; i < images.size(); i++) {
                float[] e = images.get(i)[l];
                if (e.length != sizes[l]) {
                    throw new IllegalArgumentException("level " + l + " latent has " + e.length + " values, expected " + sizes[l]);
                }
                System.arraycopy(e, 0, flat, i * sizes[l], sizes[l]);
            }
            int[] s = shapes.get(l);
            NDArray a = manager.create(flat, new Shape(images.size(), s[0], s[1], s[2]));
            out.add(dataType == DataType.FLOAT32 ? a : a.toType(dataType, false));
        }
        return out;
    }

    /** One tensor per level → per image latents. */
    public static List<float[][]> fromTensors(List<NDArray> levels) {
        int batch = (int) levels.get(0).getShape().get(0);
        List<float[][]> out = new ArrayList<>(batch);
        float[][] flat = new float[levels.size()][];
        for (int l = 0; l < levels.size(); l++) {
            flat[l] = levels.get(l).toType(DataType.FLOAT32, false).toFloatArray();
        }
        for (int i = 0; i < batch; i++) {
            float[][] e = new float[levels.size()][];
            for (int l = 0; l < levels.size(); l++) {
                int per = flat[l].length / batch;
                e[l] = new float[per];
                System.arraycopy(flat[l], i * per, e[l], 0, per);
            }
            out.add(e);
        }
        return out;
    }
}
