package dev.glowserve.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.TimeUnit;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class PngTest {

    @TempDir
    Path tmp;

    static byte[] write(BufferedImage img) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    @Test
    void grayAndRgbRoundTripExactly() {
        Random r = new Random(1);
        byte[] gray = new byte[28 * 28];
        r.nextBytes(gray);
        Png.Image g = Png.decode(Png.encode(gray, 1, 28, 28), 1 << 20);
        assertThat(g.channels()).isEqualTo(1);
        assertThat(g.pixels()).isEqualTo(gray);

        byte[] rgb = new byte[3 * 5 * 7];
        r.nextBytes(rgb);
        Png.Image c = Png.decode(Png.encode(rgb, 3, 5, 7), 1 << 20);
        assertThat(c.channels()).isEqualTo(3);
        assertThat(c.height()).isEqualTo(5);
        assertThat(c.width()).isEqualTo(7);
        assertThat(c.pixels()).isEqualTo(rgb);
    }

    /** The JVM closes ImageIO's file-cached streams at shutdown, under requests still being drained. */
    @Test
    void neverUsesImageIoFileCache() throws Exception {
        Path cache = Files.createDirectory(tmp.resolve("imageio-cache"));
        ImageIO.setCacheDirectory(cache.toFile());
        try (WatchService watcher = cache.getFileSystem().newWatchService()) {
            cache.register(watcher, StandardWatchEventKinds.ENTRY_CREATE);
            byte[] gray = new byte[28 * 28];
            new Random(2).nextBytes(gray);
            for (int i = 0; i < 3; i++) {
                assertThat(Png.decode(Png.encode(gray, 1, 28, 28), 1 << 20).pixels()).isEqualTo(gray);
            }
            WatchKey created = watcher.poll(500, TimeUnit.MILLISECONDS);
            assertThat(created == null ? List.of() : created.pollEvents()).isEmpty();
        } finally {
            ImageIO.setCacheDirectory(null);
        }
    }

    @Test
    void convertsChannelsOnlyWhereNothingIsLost() {
        byte[] gray = {1, 2, 3, 4};
        Png.Image g = new Png.Image(1, 2, 2, gray);
        Png.Image asRgb = g.withChannels(3);
        assertThat(asRgb.channels()).isEqualTo(3);
        assertThat(asRgb.isGray()).isTrue();
        assertThat(asRgb.withChannels(1).pixels()).isEqualTo(gray);
        Png.Image colour = new Png.Image(3, 1, 2, new byte[] {1, 2, 3, 4, 5, 6});
        assertThatThrownBy(() -> colour.withChannels(1)).isInstanceOf(DataException.class).hasMessageContaining("lose colour");
    }

    @Test
    void sixteenBitAndPaletteImagesDecode() throws IOException {
        BufferedImage g16 = new BufferedImage(3, 2, BufferedImage.TYPE_USHORT_GRAY);
        g16.getRaster().setSample(1, 1, 0, 0xABCD);
        Png.Image a = Png.decode(write(g16), 100);
        assertThat(a.channels()).isEqualTo(1);
        assertThat(a.pixels()[4] & 0xff).isEqualTo(0xAB);

        byte[] levels = {0, (byte) 128, (byte) 255};
        IndexColorModel grayPalette = new IndexColorModel(8, 3, levels, levels, levels);
        BufferedImage p = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_INDEXED, grayPalette);
        p.getRaster().setSample(1, 0, 0, 2);
        Png.Image b = Png.decode(write(p), 100);
        assertThat(b.channels()).isEqualTo(1);
        assertThat(b.pixels()[1] & 0xff).isEqualTo(255);
    }

    @Test
    void refusesTransparency() throws IOException {
        BufferedImage argb = new BufferedImage(2, 2, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(0, 0, 0x80FFFFFF);
        assertThatThrownBy(() -> Png.decode(write(argb), 100)).hasMessageContaining("transparent");
        BufferedImage opaque = new BufferedImage(2, 2, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 2; x++) {
                opaque.setRGB(x, y, 0xFF102030);
            }
        }
        assertThat(Png.decode(write(opaque), 100).channels()).isEqualTo(3);
    }

    /** A valid PNG header claiming 100000×100000 pixels followed by almost no data. */
    public static byte[] bomb() {
        ByteBuffer b = ByteBuffer.allocate(8 + 25 + 12);
        b.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        b.putInt(13);
        int crcStart = b.position();
        b.put(new byte[] {'I', 'H', 'D', 'R'});
        b.putInt(100_000).putInt(100_000).put((byte) 8).put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(b.array(), crcStart, 17);
        b.putInt((int) crc.getValue());
        b.putInt(0).put(new byte[] {'I', 'E', 'N', 'D'}).putInt(0xAE426082);
        return b.array();
    }

    @Test
    void decompressionBombIsRefusedFromItsHeader() {
        assertThatThrownBy(() -> Png.decode(bomb(), 1 << 20)).isInstanceOf(DataException.class)
                .hasMessageContaining("100000×100000");
    }

    @Test
    void garbageAndCorruptBytesAreRefused() {
        assertThatThrownBy(() -> Png.decode("hello".getBytes(), 100)).hasMessageContaining("not a PNG");
        byte[] good = Png.encode(new byte[16], 1, 4, 4);
        byte[] cut = java.util.Arrays.copyOf(good, good.length / 2);
        assertThatThrownBy(() -> Png.decode(cut, 100)).isInstanceOf(DataException.class);
    }

    @Test
    void gridPlacesEveryImage() {
        byte[] white = new byte[4];
        java.util.Arrays.fill(white, (byte) 255);
        Png.Image g = Png.decode(Png.grid(List.of(white, new byte[4], white), 1, 2, 2, 2, 1), 1000);
        assertThat(g.width()).isEqualTo(2 * 2 + 3);
        assertThat(g.height()).isEqualTo(2 * 2 + 3);
        assertThat(g.pixels()[1 * g.width() + 1] & 0xff).isEqualTo(255);
        assertThat(g.pixels()[1 * g.width() + 4] & 0xff).isEqualTo(0);
    }

    @Test
    void pngFolderUsesSubfoldersAsClassesAndRejectsMixedSizes() throws IOException {
        Path root = tmp.resolve("set");
        Files.createDirectories(root.resolve("cat"));
        Files.createDirectories(root.resolve("dog"));
        Files.write(root.resolve("cat/a.png"), Png.encode(new byte[4], 1, 2, 2));
        Files.write(root.resolve("dog/b.png"), Png.encode(new byte[] {9, 9, 9, 9}, 1, 2, 2));
        Files.write(root.resolve("dog/c.png"), Png.encode(new byte[4], 1, 2, 2));
        ImageSet set = PngFolder.read(root);
        assertThat(set.count()).isEqualTo(3);
        assertThat(set.classNames()).containsExactly("cat", "dog");
        assertThat(set.labels()).containsExactly(0, 1, 1);
        Files.write(root.resolve("dog/d.png"), Png.encode(new byte[9], 1, 3, 3));
        assertThatThrownBy(() -> PngFolder.read(root)).isInstanceOf(DataException.class)
                .hasMessageContaining("d.png").hasMessageContaining("all images must match");
    }

    /** fitTo: luma for colour, area averaging, proportions kept, centred on black. */
    @Test
    void fitToScalesByAreaKeepsProportionsAndCentresOnBlack() {
        byte[] flat = new byte[56 * 56];
        java.util.Arrays.fill(flat, (byte) 200);
        Png.Image square = new Png.Image(1, 56, 56, flat).fitTo(1, 28, 28);
        for (byte b : square.pixels()) {
            assertThat(b & 0xff).isEqualTo(200);
        }
        byte[] checker = new byte[4 * 4]; // 2×2 blocks of 0 and 255 average to 127.5 per block of four
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                checker[y * 4 + x] = (byte) (((x + y) % 2) * 255);
            }
        }
        assertThat(new Png.Image(1, 4, 4, checker).fitTo(1, 2, 2).pixels()).containsOnly((byte) 128);
        byte[] wide = new byte[28 * 56]; // 56 wide, 28 high: scaled to 28×14, 7 black rows above and below
        java.util.Arrays.fill(wide, (byte) 90);
        Png.Image letterboxed = new Png.Image(1, 28, 56, wide).fitTo(1, 28, 28);
        for (int y = 0; y < 28; y++) {
            int expected = y >= 7 && y < 21 ? 90 : 0;
            for (int x = 0; x < 28; x++) {
                assertThat(letterboxed.pixels()[y * 28 + x] & 0xff).as("(%d, %d)", x, y).isEqualTo(expected);
            }
        }
        byte[] rgb = new byte[3 * 4]; // one pure red, green, blue and white pixel: BT.601 luma
        rgb[0] = (byte) 255;
        rgb[4 + 1] = (byte) 255;
        rgb[8 + 2] = (byte) 255;
        rgb[3] = rgb[4 + 3] = rgb[8 + 3] = (byte) 255;
        assertThat(new Png.Image(3, 2, 2, rgb).fitTo(1, 2, 2).pixels()).containsExactly((byte) 76, (byte) 150, (byte) 29, (byte) 255);
    }
}
