package ai.djl.pytorch.jni;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;

/** Test helper: DJL has no public stride query; PyTorch's own contiguity check lives in this package. */
public final class MemoryLayout {

    private MemoryLayout() {}

    /** Whether the tensor's memory is plain row-major for its logical shape. */
    public static boolean contiguous(NDArray array) {
        return PyTorchLibrary.LIB.torchIsContiguous(((PtNDArray) array).getHandle());
    }
}
