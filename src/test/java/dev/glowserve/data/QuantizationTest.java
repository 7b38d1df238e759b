package dev.glowserve.data;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class QuantizationTest {

    @Test
    void midBinAndBackIsIdentityAtEightBits() {
        Quantization q = new Quantization(8);
        byte[] px = new byte[256];
        for (int i = 0; i < 256; i++) {
            px[i] = (byte) i;
        }
        float[] x = new float[256];
        q.midBin(px, x, 0);
        assertThat(x[0]).isCloseTo(-0.5f + 1f / 512, within(1e-7f));
        assertThat(x[255]).isCloseTo(0.5f - 1f / 512, within(1e-7f));
        assertThat(q.toPixels(x, 0, 256)).isEqualTo(px);
    }

    @Test
    void fewerBitsKeepTheLevelAndDequantisationStaysInItsBin() {
        Quantization q = new Quantization(5);
        assertThat(q.bins()).isEqualTo(32);
        byte[] px = {(byte) 0, (byte) 7, (byte) 8, (byte) 255};
        float[] x = new float[4];
        q.dequantize(px, x, 0, new Random(1));
        byte[] back = q.toPixels(x, 0, 4);
        assertThat(back).containsExactly(0, 0, 8, (byte) 248);
        for (int i = 0; i < 4; i++) {
            int level = (px[i] & 0xff) >> 3;
            assertThat((double) x[i]).isBetween(level / 32.0 - 0.5, (level + 1) / 32.0 - 0.5);
        }
    }

    @Test
    void bitsPerDimFollowsTheDesignFormula() {
        Quantization q = new Quantization(8);
        double logPx = 1000;
        double logP = q.imageLogP(logPx, 784);
        assertThat(logP).isCloseTo(1000 - 784 * Math.log(256), within(1e-9));
        assertThat(Quantization.bitsPerDim(logP, 784)).isCloseTo(-logP / (784 * Math.log(2)), within(1e-12));
        float[] out = {Float.NaN, -3f, 3f};
        assertThat(q.toPixels(out, 0, 3)).containsExactly(0, 0, (byte) 255);
    }
}
