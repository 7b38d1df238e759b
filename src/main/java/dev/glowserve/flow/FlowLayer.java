package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;

/** One invertible step: forward adds its log|det J| to the running total, reverse undoes it exactly. */
public interface FlowLayer {

    NDArray forward(NDArray x, Pass pass, LogDet logDet);

    NDArray reverse(NDArray y);
}
