package dev.glowserve.flow;

/** An invertible 1x1 convolution as matrices in double, so a following or preceding affine map can be folded in. */
interface InvertibleMix extends FlowLayer {

    /** W and W⁻¹, (C, C), assembled in double precision. */
    double[][][] matrices();

    /** log|det W| (per spatial position). */
    double logAbsDet();
}
