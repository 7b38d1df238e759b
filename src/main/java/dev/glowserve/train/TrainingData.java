package dev.glowserve.train;

import dev.glowserve.data.ImageSet;
import dev.glowserve.data.Quantization;

import java.util.Random;

/**
 * Batches as a pure function of (seed, step): epoch e visits the images in a permutation drawn
 * from (seed, e), and step s's dequantisation noise comes from (seed, s). A resumed run therefore
 * sees exactly the batches an uninterrupted one would, with no random state to save.
 */
public class TrainingData {

    /** Model inputs (B·C·H·W) and labels (or null). */
    public record Batch(float[] x, int[] labels) {}

    private final ImageSet images;
    private final Quantization quantization;
    private final int batchSize;
    private final long seed;
    private final int stepsPerEpoch;
    private int cachedEpoch = -1;
    private int[] order;

    public TrainingData(ImageSet images, Quantization quantization, int batchSize, long seed) {
        if (images.count() < batchSize) {
            throw new IllegalArgumentException("only " + images.count() + " training images for a batch of " + batchSize);
        }
        this.images = images;
        this.quantization = quantization;
        this.batchSize = batchSize;
        this.seed = seed;
        this.stepsPerEpoch = images.count() / batchSize;
    }

    public int stepsPerEpoch() {
        return stepsPerEpoch;
    }

    public ImageSet images() {
        return images;
    }

    public Batch batch(long step) {
        int epoch = (int) (step / stepsPerEpoch);
        int offset = (int) (step % stepsPerEpoch) * batchSize;
        int[] perm = permutation(epoch);
        int d = images.imageSize();
        float[] x = new float[batchSize * d];
        int[] labels = images.labels() == null ? null : new int[batchSize];
        Random noise = new Random(mix(seed, step, 0x5DEECE66DL));
        byte[] img = new byte[d];
        for (int i = 0; i < batchSize; i++) {
            int index = perm[offset + i];
            System.arraycopy(images.pixels(), index * d, img, 0, d);
            quantization.dequantize(img, x, i * d, noise);
            if (labels != null) {
                labels[i] = images.labels()[index];
            }
        }
        return new Batch(x, labels);
    }

    private synchronized int[] permutation(int epoch) {
        if (epoch != cachedEpoch) {
            int n = images.count();
            int[] p = new int[n];
            for (int i = 0; i < n; i++) {
                p[i] = i;
            }
            Random r = new Random(mix(seed, epoch, 0x2545F4914F6CDD1DL));
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
            order = p;
            cachedEpoch = epoch;
        }
        return order;
    }

    private static long mix(long seed, long index, long salt) {
        long z = seed * 0x9E3779B97F4A7C15L + index * salt + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
