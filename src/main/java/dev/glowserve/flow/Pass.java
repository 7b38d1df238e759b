package dev.glowserve.flow;

/** How a forward pass runs. */
public enum Pass {
    /** Served requests: weights come from caches built once per parameter version. */
    INFERENCE,
    /** Training: weights are built from the parameters each pass so autograd reaches them. */
    TRAINING,
    /** The trainer's first batch: like TRAINING, and each ActNorm first sets itself from its input. */
    DATA_INIT;

    public boolean training() {
        return this != INFERENCE;
    }
}
