package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * Result of {@link Glow#encode}: per level the standardised latent {@code eps} (docs/DESIGN.md) and
 * the raw {@code z}; per image log|det J| of the flows and the prior's log-density of the z's.
 */
public record Encoding(List<NDArray> eps, List<NDArray> z, NDArray logDet, NDArray priorLogP) {

    /** log p of the continuous input x, in nats, per image. */
    public NDArray logPx() {
        return priorLogP.add(logDet);
    }
}
