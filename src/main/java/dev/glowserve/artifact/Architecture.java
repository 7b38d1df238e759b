package dev.glowserve.artifact;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.glowserve.flow.GlowConfig;

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
        @JsonProperty("num_classes") Integer numClasses) {

    public static Architecture of(GlowConfig c) {
        return new Architecture(c.inChannels(), c.height(), c.width(), c.flowsPerLevel(), c.levels(),
                c.hiddenChannels(), c.affine(), c.lu(), c.numClasses());
    }

    /** Checks every field is present and valid; the message names the field. */
    public GlowConfig toConfig() {
        try {
            return new GlowConfig(req(inChannels, "in_channels"), req(height, "height"), req(width, "width"),
                    req(flowsPerLevel, "flows_per_level"), req(levels, "levels"), req(hiddenChannels, "hidden_channels"),
                    req(affine, "affine"), req(lu, "lu"), numClasses == null ? 0 : numClasses);
        } catch (IllegalArgumentException e) {
            throw new ArtifactException("manifest.json: architecture: " + e.getMessage());
        }
    }

    private static <T> T req(T value, String field) {
        if (value == null) {
            throw new ArtifactException("manifest.json: architecture." + field + " is missing");
        }
        return value;
    }
}
