package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Channels-last memory for convolution weights: PyTorch's oneDNN convolutions run in NHWC, their fastest
 * layout on CPU, when a weight is channels-last, and their outputs stay so (docs/PERFORMANCE.md has the figures).
 */
public final class ChannelsLast {

    private ChannelsLast() {}

    /**
     * Same logical (N, C, H, W) tensor laid out as (N, H, W, C) in memory. Inputs must be converted too: a conv
     * of an NCHW input with a channels-last weight leaves its output in a layout that slows the next conv.
     */
    public static NDArray of(NDArray x) {
        Shape s = x.getShape();
        // flattening forces the copy: reshaping the permuted view to its own shape kept the old strides
        return x.transpose(0, 2, 3, 1).reshape(-1).reshape(s.get(0), s.get(2), s.get(3), s.get(1)).transpose(0, 3, 1, 2);
    }
}
