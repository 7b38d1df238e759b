package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;

import java.util.Random;

/** One step of flow: ActNorm → invertible 1x1 conv → coupling. */
public final class FlowStep implements FlowLayer {

    private final ActNorm actNorm;
    private final FlowLayer invConv;
    private final Coupling coupling;

    FlowStep(FlowParameters params, String prefix, int channels, GlowConfig config, Random random) {
        this.actNorm = new ActNorm(params, prefix + "actnorm.", channels);
        this.invConv = config.lu()
                ? new InvConv1x1(params, prefix + "invconv.", channels, random)
                : new InvConv1x1Plain(params, prefix + "invconv.", channels, random);
        this.coupling = new Coupling(params, prefix + "coupling.", channels, config.hiddenChannels(), config.affine(), random);
    }

    ActNorm actNorm() {
        return actNorm;
    }

    Coupling coupling() {
        return coupling;
    }

    FlowLayer invConv() {
        return invConv;
    }

    @Override
    public NDArray forward(NDArray x, Pass pass, LogDet logDet) {
        return Scopes.one(() -> {
            NDArray h = actNorm.forward(x, pass, logDet);
            h = invConv.forward(h, pass, logDet);
            return coupling.forward(h, pass, logDet);
        });
    }

    @Override
    public NDArray reverse(NDArray y) {
        return Scopes.one(() -> actNorm.reverse(invConv.reverse(coupling.reverse(y))));
    }
}
