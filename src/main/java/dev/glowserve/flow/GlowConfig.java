package dev.glowserve.flow;

import java.util.ArrayList;
import java.util.List;

/**
 * Architecture of a multi-scale Glow (docs/DESIGN.md). {@code numClasses == 0} means unconditional.
 *
 * <p>Level {@code l} (0-based) sees {@code inChannels·2^l} channels before its squeeze and works on
 * {@code 4·inChannels·2^l} channels at {@code height/2^(l+1) × width/2^(l+1)}.
 */
public record GlowConfig(
        int inChannels,
        int height,
        int width,
        int flowsPerLevel,
        int levels,
        int hiddenChannels,
        boolean affine,
        Permutation permutation,
        int numClasses) {

    /** With the 1×1 convolution LU-parametrised ({@code lu}) or a plain matrix. */
    public GlowConfig(int inChannels, int height, int width, int flowsPerLevel, int levels, int hiddenChannels, boolean affine,
            boolean lu, int numClasses) {
        this(inChannels, height, width, flowsPerLevel, levels, hiddenChannels, affine, lu ? Permutation.CONV_LU : Permutation.CONV,
                numClasses);
    }

    /** Whether the channels are mixed by the LU-parametrised 1×1 convolution. */
    public boolean lu() {
        return permutation == Permutation.CONV_LU;
    }

    public GlowConfig {
        require(permutation != null, "permutation must be one of conv-lu, conv, reverse, shuffle");
        require(inChannels >= 1 && inChannels <= 4, "in_channels must be 1..4, got " + inChannels);
        require(levels >= 1 && levels <= 6, "levels must be 1..6, got " + levels);
        require(flowsPerLevel >= 1 && flowsPerLevel <= 64, "flows_per_level must be 1..64, got " + flowsPerLevel);
        require(hiddenChannels >= 1 && hiddenChannels <= 4096, "hidden_channels must be 1..4096, got " + hiddenChannels);
        require(numClasses >= 0 && numClasses <= 10_000, "num_classes must be 0..10000, got " + numClasses);
        int factor = 1 << levels;
        require(height > 0 && width > 0 && height % factor == 0 && width % factor == 0,
                "image size " + height + "x" + width + " must be divisible by 2^levels = " + factor);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** An unconditional affine LU model. */
    public static GlowConfig of(int inChannels, int height, int width, int flowsPerLevel, int levels, int hidden) {
        return new GlowConfig(inChannels, height, width, flowsPerLevel, levels, hidden, true, true, 0);
    }

    public GlowConfig withClasses(int classes) {
        return new GlowConfig(inChannels, height, width, flowsPerLevel, levels, hiddenChannels, affine, permutation, classes);
    }

    public boolean conditional() {
        return numClasses > 0;
    }

    /** Pixel values per image: C·H·W. */
    public int dimensions() {
        return inChannels * height * width;
    }

    /**
     * The number of weights (floating-point parameters) the model has, known before it is built: what its memory
     * estimate starts from (a test counts built models' parameters against it).
     */
    public long weightCount() {
        long total = 0;
        int last = levels - 1;
        for (int l = 0; l <= last; l++) {
            long c = flowChannels(l), half = c / 2, out = affine ? c : half, h = hiddenChannels;
            long actNorm = 2 * c;
            long mix = switch (permutation) {
                case CONV_LU -> 6 * c * c + 2 * c;
                case CONV -> c * c;
                case REVERSE, SHUFFLE -> c; // the order, stored, not trained
            };
            long coupling = h * half * 9 + h + h * h + h + out * h * 9 + 2 * out;
            total += flowsPerLevel * (actNorm + mix + coupling);
            long priorIn = l < last ? c / 2 : c, priorOut = l < last ? c : 2 * c;
            total += priorOut * priorIn * 9 + 2 * priorOut;
        }
        if (conditional()) {
            total += (long) numClasses * 2 * flowChannels(last) * levelHeight(last) * levelWidth(last);
        }
        return total;
    }

    /**
     * An upper estimate of the memory the model takes in float32 while serving batches of {@code batch}: its weights
     * three times (the parameters, the inference caches such as W and W⁻¹, prepacked copies) and a batch's
     * activations (the widest coupling net's hidden maps and the images' own tensors, a few of each alive at once).
     */
    public long estimatedBytes(int batch) {
        long weights = 4 * weightCount();
        long hiddenMaps = (long) hiddenChannels * levelHeight(0) * levelWidth(0);
        long activations = 4L * batch * (6 * hiddenMaps + 8L * dimensions());
        return 3 * weights + activations;
    }

    /** Channels a level's flows work on (after its squeeze). */
    public int flowChannels(int level) {
        return inChannels * 4 << level;
    }

    public int levelHeight(int level) {
        return height >> (level + 1);
    }

    public int levelWidth(int level) {
        return width >> (level + 1);
    }

    /** Shape C×H×W of the standardised latent eps of each level (docs/DESIGN.md, "One latent space"). */
    public List<int[]> latentShapes() {
        List<int[]> shapes = new ArrayList<>(levels);
        for (int l = 0; l < levels; l++) {
            int c = l < levels - 1 ? flowChannels(l) / 2 : flowChannels(l);
            shapes.add(new int[] {c, levelHeight(l), levelWidth(l)});
        }
        return shapes;
    }
}
