package dev.glowserve.ood;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;

import static org.assertj.core.api.Assertions.assertThat;

/** The compressed size is a real PNG's: the stream, framed as a PNG file, decodes (ImageIO) to the very pixels. */
class ComplexityTest {

    static byte[] clothesLike(long seed) {
        Random r = new Random(seed);
        byte[] px = new byte[784];
        for (int y = 4; y < 24; y++) {
            for (int x = 6 + r.nextInt(3); x < 22 - r.nextInt(3); x++) {
                px[y * 28 + x] = (byte) (90 + r.nextInt(120));
            }
        }
        return px;
    }

    /** A PNG file around an IDAT stream: 8-bit gray, {@code rows} × {@code width}. */
    static byte[] pngFile(byte[] idat, int width, int rows) throws IOException {
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream h = new DataOutputStream(ihdr);
        h.writeInt(width);
        h.writeInt(rows);
        h.write(new byte[] {8, 0, 0, 0, 0}); // 8 bits, gray, deflate, adaptive filtering, no interlace
        chunk(file, "IHDR", ihdr.toByteArray());
        chunk(file, "IDAT", idat);
        chunk(file, "IEND", new byte[0]);
        return file.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream file, String type, byte[] data) throws IOException {
        DataOutputStream out = new DataOutputStream(file);
        out.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeInt((int) crc.getValue());
    }

    @ParameterizedTest
    @EnumSource(Complexity.class)
    void theStreamIsAPngThatDecodesToTheSamePixels(Complexity c) throws IOException {
        for (int seed = 0; seed < 5; seed++) {
            byte[] px = seed == 0 ? new byte[784] : clothesLike(seed);
            byte[] idat = c.stream(px, 1, 28, 28);
            assertThat(idat).hasSize(c.compressedBytes(px, 1, 28, 28));
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(pngFile(idat, 28, 28)));
            byte[] back = new byte[784];
            img.getRaster().getDataElements(0, 0, 28, 28, back);
            assertThat(back).as("%s, image %d", c, seed).containsExactly(px);
            assertThat(c.bitsPerDim(px, 1, 28, 28)).isEqualTo(8.0 * idat.length / 784);
        }
        // three channels: each channel's rows in turn, a gray image three times as high
        byte[] rgb = new byte[3 * 64];
        new Random(3).nextBytes(rgb);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(pngFile(c.stream(rgb, 3, 8, 8), 8, 24)));
        byte[] back = new byte[3 * 64];
        img.getRaster().getDataElements(0, 0, 8, 24, back);
        assertThat(back).containsExactly(rgb);
    }

    @Test
    void simpleImagesCompressFarMoreThanNoise() {
        byte[] noise = new byte[784];
        new Random(1).nextBytes(noise);
        byte[] constant = new byte[784];
        java.util.Arrays.fill(constant, (byte) 77);
        Complexity c = Complexity.PNG_UP;
        assertThat(c.bitsPerDim(constant, 1, 28, 28)).isLessThan(0.3);
        assertThat(c.bitsPerDim(clothesLike(1), 1, 28, 28)).isBetween(1.0, 8.0);
        assertThat(c.bitsPerDim(noise, 1, 28, 28)).isGreaterThan(7.9); // incompressible: deflate stores it
        assertThat(Complexity.of("PNG-UP")).isSameAs(Complexity.PNG_UP);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Complexity.of("zstd")).hasMessageContaining("png-up");
    }
}
