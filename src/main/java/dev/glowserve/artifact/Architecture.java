package dev.glowserve.artifact;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Permutation;

/** The manifest's {@code architecture} object (snake_case on disk, as docs/DESIGN.md gives it). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Architecture(
        @JsonProperty("in_channels") Integer inChannels,
        @JsonProperty("height") Integer height,
        @JsonProperty("width") Integer width,
        @JsonProperty("flows_per_level") Integer flowsPerLevel,
        @JsonProperty("levels") Integer levels,
        @JsonProperty("hidden_channels") Integer hiddenChannels,
        @JsonProperty("affine") Boolean affine,
        @JsonProperty("lu") Boolean lu,
        @JsonProperty("num_classes") Integer numClasses,
        @JsonProperty("permutation") String permutation) {

    /** An architecture with a 1×1 convolution, LU or plain, as manifests before the fixed permutations say it. */
    public Architecture(Integer inChannels, Integer height, Integer width, Integer flowsPerLevel, Integer levels,
            Integer hiddenChannels, Boolean affine, Boolean lu, Integer numClasses) {
        this(inChannels, height, width, flowsPerLevel, levels, hiddenChannels, affine, lu, numClasses, null);
    }

    /** {@code lu} for the readers that know only it; {@code permutation} where it is not the LU 1×1 convolution. */
    public static Architecture of(GlowConfig c) {
        return new Architecture(c.inChannels(), c.height(), c.width(), c.flowsPerLevel(), c.levels(),
                c.hiddenChannels(), c.affine(), c.lu(), c.numClasses(),
                c.permutation() == Permutation.CONV_LU ? null : c.permutation().id());
    }

    /** Checks every field is present and valid; the message names the field. */
    public GlowConfig toConfig() {
        try {
            return new GlowConfig(req(inChannels, "in_channels"), req(height, "height"), req(width, "width"),
                    req(flowsPerLevel, "flows_per_level"), req(levels, "levels"), req(hiddenChannels, "hidden_channels"),
                    req(affine, "affine"), mixing(), numClasses == null ? 0 : numClasses);
        } catch (IllegalArgumentException e) {
            throw new ArtifactException("manifest.json: architecture: " + e.getMessage());
        }
    }

    /** {@code permutation} when given (and consistent with {@code lu}), else what {@code lu} says. */
    public Permutation mixing() {
        boolean isLu = req(lu, "lu");
        if (permutation == null) {
            return isLu ? Permutation.CONV_LU : Permutation.CONV;
        }
        Permutation p = Permutation.of(permutation);
        if (isLu != (p == Permutation.CONV_LU)) {
            throw new IllegalArgumentException("lu is " + isLu + " but permutation is " + permutation);
        }
        return p;
    }

    private static <T> T req(T value, String field) {
        if (value == null) {
            throw new ArtifactException("manifest.json: architecture." + field + " is missing");
        }
        return value;
    }
}
