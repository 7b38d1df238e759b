package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.MemoryLayout;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Channels-last must really change the memory (the earlier version reshaped a permuted view to its
 * own shape, which kept the NCHW strides, so oneDNN ran the 3×3 convs in NCHW and reordered).
 */
class ChannelsLastTest {

    @Test
    void contiguousInputBecomesChannelsLastMemoryWithSameValues() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.arange(2f * 3 * 4 * 5).reshape(2, 3, 4, 5);
            NDArray cl = ChannelsLast.of(x);
            assertThat(cl.getShape()).isEqualTo(new Shape(2, 3, 4, 5));
            assertThat(MemoryLayout.contiguous(cl.transpose(0, 2, 3, 1))).isTrue();
            assertThat(MemoryLayout.contiguous(cl)).isFalse();
            assertThat(cl.toFloatArray()).containsExactly(x.toFloatArray());
        }
    }

    @Test
    void channelSliceOfALargerTensorBecomesChannelsLast() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.arange(2f * 4 * 3 * 3).reshape(2, 4, 3, 3);
            NDArray slice = x.split(2, 1).get(0);
            NDArray cl = ChannelsLast.of(slice);
            assertThat(MemoryLayout.contiguous(cl.transpose(0, 2, 3, 1))).isTrue();
            assertThat(cl.toFloatArray()).containsExactly(slice.toFloatArray());
        }
    }
}
