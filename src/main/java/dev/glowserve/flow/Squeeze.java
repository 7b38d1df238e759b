package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Space-to-depth by 2: (B, C, H, W) → (B, 4C, H/2, W/2), channel-major (docs/DESIGN.md, "Architecture"). */
public final class Squeeze {

    private Squeeze() {}

    public static NDArray squeeze(NDArray x) {
        Shape s = x.getShape();
        long b = s.get(0), c = s.get(1), h = s.get(2), w = s.get(3);
        return x.reshape(b, c, h / 2, 2, w / 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(b, c * 4, h / 2, w / 2);
    }

    public static NDArray unsqueeze(NDArray x) {
        Shape s = x.getShape();
        long b = s.get(0), c = s.get(1), h = s.get(2), w = s.get(3);
        return x.reshape(b, c / 4, 2, 2, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(b, c / 4, h * 2, w * 2);
    }
}
