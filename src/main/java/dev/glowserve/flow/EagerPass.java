package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;

import java.util.List;

/** Inference on {@link Glow}'s own layers, one DJL op at a time: the reference the scripted pass is tested against. */
final class EagerPass implements InferencePass {

    private final Glow glow;
    private final String unavailable;

    /** @param unavailable why the scripted pass could not be built, or null where it was not asked for */
    EagerPass(Glow glow, String unavailable) {
        this.glow = glow;
        this.unavailable = unavailable;
    }

    @Override
    public Encoding encode(NDArray x, int[] labels) {
        return glow.encode(x, labels, Pass.INFERENCE);
    }

    @Override
    public Marginal encodeMarginal(NDArray x) {
        return glow.encodeMarginal(x);
    }

    @Override
    public NDArray decode(List<NDArray> eps, int[] labels) {
        return glow.decode(eps, labels);
    }

    @Override
    public NDArray decodeZ(List<NDArray> z) {
        return glow.decodeZ(z);
    }

    @Override
    public String name() {
        return unavailable == null ? "eager" : "eager (TorchScript pass unavailable: " + unavailable + ")";
    }

    @Override
    public void close() {}
}
