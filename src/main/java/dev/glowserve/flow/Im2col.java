package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

/**
 * A 3×3, stride-1, zero-padded convolution as one GEMM: the input's 3×3 neighbourhoods become rows
 * (im2col) and the kernel a matrix. Used in training, where PyTorch's convolution backward for a
 * 2- or 4-channel input was the slowest op of a step and a GEMM's backward is two GEMMs.
 */
final class Im2col {

    private static final Shape PAD_HW = new Shape(1, 1, 1, 1);

    private Im2col() {}

    /** (B, C, H, W) → (B·H·W, 9·C); column {@code (ky·3 + kx)·C + c} holds x[c, y+ky-1, x+kx-1]. */
    static NDArray rows(NDArray x) {
        Shape s = x.getShape();
        long c = s.get(1);
        long h = s.get(2);
        long w = s.get(3);
        NDArray padded = x.pad(PAD_HW, 0).transpose(0, 2, 3, 1); // (B, H+2, W+2, C)
        NDList taps = new NDList(9);
        for (int ky = 0; ky < 3; ky++) {
            for (int kx = 0; kx < 3; kx++) {
                taps.add(padded.get(":, " + ky + ":" + (ky + h) + ", " + kx + ":" + (kx + w)));
            }
        }
        return NDArrays.stack(taps, 3).reshape(-1, 9 * c);
    }

    /** A (out, C, 3, 3) kernel as the (out, 9·C) matrix matching {@link #rows}. */
    static NDArray weightRows(NDArray kernel) {
        Shape s = kernel.getShape();
        return kernel.transpose(0, 2, 3, 1).reshape(s.get(0), 9 * s.get(1));
    }
}
