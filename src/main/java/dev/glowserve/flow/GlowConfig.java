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
        boolean lu,
        int numClasses) {

    public GlowConfig {
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
        return new GlowConfig(inChannels, height, width, flowsPerLevel, levels, hiddenChannels, affine, lu, classes);
    }

    public boolean conditional() {
        return numClasses > 0;
    }

    /** Pixel values per image: C·H·W. */
    public int dimensions() {
        return inChannels * height * width;
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
