package dev.glowserve.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.artifact.Calibration;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.Encoding;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.InferencePass;
import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.flow.Latents;
import dev.glowserve.flow.Marginal;
import dev.glowserve.flow.Tensors;
import org.apache.commons.math3.stat.StatUtils;

import java.util.ArrayList;
import java.util.List;

/**
 * A loaded model behind a Java-array API: 8-bit images in, scores and latents out, and back, through the inference
 * pass chosen when the model was opened. Every call runs in its own native scope and sub-manager, so no native
 * memory outlives it, and
 * large batches run in chunks of {@link #chunkSize} (the fastest size for the CPU caches), or, with
 * {@link Lanes} (the command line), in chunks of {@link Lanes#CHUNK} on one single-threaded lane per core.
 *
 * <p>Over 300 lines because it is the model's whole Java-array API (score, encode, decode, sample, each in chunks or
 * on lanes) with its builder; the computation lives in flow/, loading in {@link ModelLoader}.
 */
public final class ModelRunner implements AutoCloseable {

    /** Per image: log p of the 8-bit image in nats, bits/dim, and for class-conditional models the class used and p(class | image). */
    public record Score(double logPNats, double bitsPerDim, Integer label, double[] classProbabilities) {}

    /** Standardised latents (the public latent space), the raw flow output z, and the score. */
    public record Encoded(float[][] eps, float[][] z, Score score) {}

    private final String name;
    private final String version;
    private final Manifest manifest;
    private final Glow glow;
    private final InferencePass pass;
    private final RouteTuning.Opened opened;
    private final Quantization quantization;
    private final int chunkSize;
    private final float[][][] classMeans;
    private final Lanes lanes;
    private final Calibration calibration;
    /** Whether closing this runner frees the model (not when borrowing it, nor {@link #alongside}). */
    private final boolean ownsModel;
    /** Whether closing this runner stops the lanes (the runner built with them; not {@link #alongside}). */
    private final boolean ownsLanes;

    private ModelRunner(Builder b, RouteTuning.Opened opened, boolean ownsModel, boolean ownsLanes) {
        this.name = b.name != null ? b.name : b.manifest.name();
        this.version = b.version != null ? b.version : b.manifest.versionOrDefault();
        this.manifest = b.manifest;
        this.glow = b.glow;
        this.opened = opened;
        this.pass = opened.pass();
        this.quantization = new Quantization(b.manifest.bits());
        this.chunkSize = Math.max(1, b.chunkSize);
        this.classMeans = b.classMeans;
        this.lanes = b.lanes;
        this.calibration = b.calibration;
        this.ownsModel = ownsModel;
        this.ownsLanes = ownsLanes;
    }

    /** A runner of {@code glow} (initialized) described by {@code manifest}: set what differs from the defaults, then build. */
    public static Builder builder(Manifest manifest, Glow glow) {
        return new Builder(manifest, glow);
    }

    /**
     * How a runner is made: its name and version (the manifest's by default), the chunk size of its passes (64), the
     * measured class means and the calibration (none), the lanes of the command line's large batches (none) and its
     * inference pass (opened from {@link InferenceSettings#DEFAULT} unless one is given). The runner built owns the
     * model (unless {@link #borrowing}), the pass and the lanes, and frees them when closed.
     */
    public static final class Builder {
        private final Manifest manifest;
        private final Glow glow;
        private String name;
        private String version;
        private int chunkSize = 64;
        private float[][][] classMeans;
        private Calibration calibration;
        private Lanes lanes;
        private InferenceSettings settings = InferenceSettings.DEFAULT;
        private RouteTuning.Opened opened;
        private boolean borrowing;

        private Builder(Manifest manifest, Glow glow) {
            this.manifest = manifest;
            this.glow = glow;
        }

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder version(String version) {
            this.version = version;
            return this;
        }

        public Builder chunkSize(int chunkSize) {
            this.chunkSize = chunkSize;
            return this;
        }

        public Builder classMeans(float[][][] classMeans) {
            this.classMeans = classMeans;
            return this;
        }

        public Builder calibration(Calibration calibration) {
            this.calibration = calibration;
            return this;
        }

        /** Batches of two {@link Lanes#CHUNK}s or more run as chunks on {@code lanes} (null: on the calling thread). */
        public Builder lanes(Lanes lanes) {
            this.lanes = lanes;
            return this;
        }

        /** The pass {@code settings} ask for, opened (and tuned where they say so) at build. */
        public Builder inference(InferenceSettings settings) {
            this.settings = settings;
            this.opened = null;
            return this;
        }

        /** A pass already opened ({@link RouteTuning#open}). */
        public Builder pass(RouteTuning.Opened opened) {
            this.opened = opened;
            return this;
        }

        /**
         * The model stays its owner's (a trainer's live model): closing the runner frees its pass and lanes only.
         */
        public Builder borrowing() {
            this.borrowing = true;
            return this;
        }

        /** The device the model is on, for what is chosen by it (lanes on a CPU). */
        public ai.djl.Device device() {
            return glow.manager().getDevice();
        }

        public ModelRunner build() {
            return new ModelRunner(this, opened != null ? opened : RouteTuning.open(glow, settings), !borrowing, true);
        }
    }

    /**
     * A runner of the same model on another inference pass (the benchmark's side-by-side passes): closing it frees
     * its pass only; the model and the lanes stay this runner's.
     */
    public ModelRunner alongside(InferenceSettings settings) {
        Builder b = builder(manifest, glow).name(name).version(version).chunkSize(chunkSize).classMeans(classMeans)
                .calibration(calibration).lanes(lanes);
        return new ModelRunner(b, RouteTuning.open(glow, settings), false, false);
    }

    /** The held-out scores that calibrate out-of-distribution answers; null if the artifact has none. */
    public Calibration calibration() {
        return calibration;
    }

    /** Which inference pass runs the model ({@link InferencePass#name()}). */
    public String inferencePass() {
        return pass.name();
    }

    /** The routes the pass runs and where they came from (tuned, cached, a file, untuned). */
    public String routes() {
        return opened.routes();
    }

    public Lanes lanes() {
        return lanes;
    }

    public boolean hasMeasuredClassMeans() {
        return classMeans != null;
    }

    /** The artifact's measured class means in raw z ({@code [class][level][j]}); null where it has none. */
    public float[][][] classMeans() {
        return classMeans;
    }

    public String name() {
        return name;
    }

    /** The version it is served as: its repository folder's name, else its manifest's. */
    public String version() {
        return version;
    }

    public Manifest manifest() {
        return manifest;
    }

    public Glow glow() {
        return glow;
    }

    public GlowConfig config() {
        return glow.config();
    }

    public Quantization quantization() {
        return quantization;
    }

    public int imageSize() {
        return config().dimensions();
    }

    /** log-likelihood per image, deterministic (mid-bin dequantisation). */
    public List<Score> score(List<byte[]> images, int[] labels) {
        List<Score> out = new ArrayList<>(images.size());
        for (Encoded e : encode(images, labels)) {
            out.add(e.score());
        }
        return out;
    }

    /** Latents and score per image; {@code labels} null on a conditional model means "unknown class". */
    public List<Encoded> encode(List<byte[]> images, int[] labels) {
        return inChunks(images.size(), (from, to) -> encodeChunk(images.subList(from, to), slice(labels, from, to), null, from));
    }

    /**
     * The score of each image with its bins filled with uniform noise instead of their midpoints: one draw of the
     * dequantised bound the literature reports, averaged over draws by the caller. Image i's noise comes from
     * {@code seed}, {@code draw} and i alone, so a draw is the same however the images are batched.
     */
    public List<Score> scoreDequantized(List<byte[]> images, int[] labels, long seed, int draw) {
        long drawSeed = seed * 0x9E3779B97F4A7C15L + draw;
        List<Score> out = new ArrayList<>(images.size());
        for (Encoded e : inChunks(images.size(), (from, to) -> encodeChunk(images.subList(from, to), slice(labels, from, to),
                drawSeed, from))) {
            out.add(e.score());
        }
        return out;
    }

    /** {@code part(from, to)} over {@code [0, n)}: on the lanes when they split n, else in chunks of {@link #chunkSize} here. */
    private <T> List<T> inChunks(int n, java.util.function.BiFunction<Integer, Integer, List<T>> part) {
        if (Lanes.splits(lanes, n)) {
            return lanes.map(n, part);
        }
        List<T> out = new ArrayList<>(n);
        for (int from = 0; from < n; from += chunkSize) {
            out.addAll(part.apply(from, Math.min(n, from + chunkSize)));
        }
        return out;
    }

    /**
     * Each image's dequantised bits/dim averaged over {@code draws} draws from {@code seed} (draw k is
     * {@link #scoreDequantized}'s k); {@code afterDraw} hears each draw done.
     */
    public DequantizedScores dequantizedBitsPerDim(List<byte[]> images, int[] labels, long seed, int draws, Runnable afterDraw) {
        double[] perImage = new double[images.size()];
        for (int k = 0; k < draws; k++) {
            List<Score> draw = scoreDequantized(images, labels, seed, k);
            for (int i = 0; i < perImage.length; i++) {
                perImage[i] += draw.get(i).bitsPerDim() / draws;
            }
            afterDraw.run();
        }
        return new DequantizedScores(perImage);
    }

    /**
     * Each image's dequantised bits/dim (the mean over its draws); their mean, and its standard error over the images
     * (NaN under two images). The draws' own noise is far smaller at four or more: an image's draws differ by a few
     * thousandths.
     */
    public record DequantizedScores(double[] perImage) {

        public double mean() {
            return StatUtils.mean(perImage);
        }

        public double standardError() {
            return perImage.length < 2 ? Double.NaN : Math.sqrt(StatUtils.variance(perImage) / perImage.length);
        }
    }

    /** {@code noiseSeed} null: mid-bin; else uniform noise, image {@code first + i}'s from the seed and its index. */
    private List<Encoded> encodeChunk(List<byte[]> images, int[] labels, Long noiseSeed, int first) {
        GlowConfig c = config();
        int d = c.dimensions();
        try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            float[] x = new float[images.size() * d];
            for (int i = 0; i < images.size(); i++) {
                byte[] img = images.get(i);
                if (img.length != d) {
                    throw new IllegalArgumentException("image " + i + " has " + img.length + " values, expected " + d);
                }
                if (noiseSeed == null) {
                    quantization.midBin(img, x, i * d);
                } else {
                    quantization.dequantize(img, x, i * d, new java.util.Random(noiseSeed ^ (0xBF58476D1CE4E5B9L * (first + i + 1))));
                }
            }
            NDArray input = toModelType(m.create(x, new Shape(images.size(), c.inChannels(), c.height(), c.width())));
            Encoding enc;
            double[] logPx;
            int[] used = labels;
            double[][] posterior = null;
            if (c.conditional() && labels == null) {
                Marginal marginal = pass.encodeMarginal(input);
                enc = marginal.encoding();
                logPx = marginal.logPx();
                used = marginal.labels();
                posterior = marginal.classPosterior();
            } else {
                enc = pass.encode(input, labels);
                logPx = Tensors.toDoubles(enc.logPx());
            }
            List<float[][]> eps = Latents.fromTensors(enc.eps());
            List<float[][]> zs = Latents.fromTensors(enc.z());
            List<Encoded> out = new ArrayList<>(images.size());
            for (int i = 0; i < images.size(); i++) {
                double logP = quantization.imageLogP(logPx[i], d);
                Score s = new Score(logP, Quantization.bitsPerDim(logP, d), used == null ? null : used[i],
                        posterior == null ? null : posterior[i]);
                out.add(new Encoded(eps.get(i), zs.get(i), s));
            }
            return out;
        }
    }

    /** Standardised latents → 8-bit images (C×H×W each). */
    public List<byte[]> decode(List<float[][]> eps, int[] labels) {
        return reverse(eps, labels, true);
    }

    /** Raw flow latents z (as {@link Encoded#z()}) → 8-bit images. */
    public List<byte[]> decodeZ(List<float[][]> z) {
        return reverse(z, null, false);
    }

    private static int[] slice(int[] labels, int from, int to) {
        return labels == null ? null : java.util.Arrays.copyOfRange(labels, from, to);
    }

    private List<byte[]> reverse(List<float[][]> latents, int[] labels, boolean standardised) {
        return inChunks(latents.size(), (from, to) -> reverseChunk(latents.subList(from, to), slice(labels, from, to), standardised));
    }

    private List<byte[]> reverseChunk(List<float[][]> latents, int[] labels, boolean standardised) {
        int d = imageSize();
        try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            NDList tensors = Latents.toTensors(m, config(), latents, glow.parameters().dataType());
            NDArray x = standardised ? pass.decode(tensors, labels) : pass.decodeZ(tensors);
            float[] values = x.toType(DataType.FLOAT32, false).toFloatArray();
            for (int i = 0; i < values.length; i++) {
                if (!Float.isFinite(values[i])) {
                    throw new NonFiniteOutputException("latents decode to non-finite pixel values (image "
                            + (i / d) + "); they are too far from the prior");
                }
            }
            List<byte[]> out = new ArrayList<>(latents.size());
            for (int i = 0; i < latents.size(); i++) {
                out.add(quantization.toPixels(values, i * d, d));
            }
            return out;
        }
    }

    /** Latents that leave the range where the inverse flow stays finite. */
    public static final class NonFiniteOutputException extends IllegalArgumentException {
        public NonFiniteOutputException(String message) {
            super(message);
        }
    }

    /** n samples at temperature T from {@code seed}; class-conditional models take a class per image. */
    public List<byte[]> sample(int n, double temperature, long seed, int[] labels) {
        return decode(Latents.sample(config(), n, temperature, seed), labels);
    }

    private NDArray toModelType(NDArray a) {
        DataType t = glow.parameters().dataType();
        return a.getDataType() == t ? a : a.toType(t, false);
    }

    @Override
    public void close() {
        pass.close();
        if (ownsLanes && lanes != null) {
            lanes.close();
        }
        if (ownsModel) {
            glow.close();
        }
    }
}
