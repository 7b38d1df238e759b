package dev.glowserve.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IdxTest {

    @TempDir
    Path tmp;

    static byte[] idx(int magic, int[] dims, byte[] data) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bos);
        out.writeInt(magic);
        for (int d : dims) {
            out.writeInt(d);
        }
        out.write(data);
        return bos.toByteArray();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(bos)) {
            gz.write(raw);
        }
        return bos.toByteArray();
    }

    @Test
    void readsGzipAndRawImagesWithLabels() throws IOException {
        byte[] pixels = new byte[3 * 4 * 5];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * 7);
        }
        Path images = tmp.resolve("train-images-idx3-ubyte.gz");
        Files.write(images, gzip(idx(0x0803, new int[] {3, 4, 5}, pixels)));
        Path labels = tmp.resolve("train-labels-idx1-ubyte");
        Files.write(labels, idx(0x0801, new int[] {3}, new byte[] {2, 0, 9}));
        ImageSet set = Datasets.load(tmp, Datasets.Split.TRAIN);
        assertThat(set.count()).isEqualTo(3);
        assertThat(set.height()).isEqualTo(4);
        assertThat(set.width()).isEqualTo(5);
        assertThat(set.pixels()).isEqualTo(pixels);
        assertThat(set.labels()).containsExactly(2, 0, 9);
        assertThat(set.classNames()).hasSize(10);
    }

    @Test
    void fashionMnistFromTheDebianPackage() {
        ImageSet test = Datasets.load(Datasets.FASHION_MNIST, Datasets.Split.TEST);
        assertThat(test.count()).isEqualTo(10_000);
        assertThat(test.height()).isEqualTo(28);
        assertThat(test.classNames()).containsExactlyElementsOf(Datasets.FASHION_MNIST_CLASSES);
        assertThat(Arrays.stream(test.labels()).distinct().count()).isEqualTo(10);
    }

    @Test
    void missingDataNamesThePathAndTheInstallCommand() {
        Path missing = tmp.resolve("nowhere");
        assertThatThrownBy(() -> Datasets.load(missing, Datasets.Split.TRAIN))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("apt-get install dataset-fashion-mnist");
    }

    @Test
    void missingSplitNamesTheFile() throws IOException {
        Files.write(tmp.resolve("train-images-idx3-ubyte"), idx(0x0803, new int[] {1, 2, 2}, new byte[4]));
        assertThatThrownBy(() -> Datasets.load(tmp, Datasets.Split.TEST))
                .hasMessageContaining("t10k-images-idx3-ubyte.gz").hasMessageContaining("apt-get install");
    }

    @Test
    void badMagicTruncationAndCountMismatchAreNamed() throws IOException {
        Path bad = tmp.resolve("bad");
        Files.write(bad, idx(0x0D03, new int[] {1, 2, 2}, new byte[4]));
        assertThatThrownBy(() -> Idx.read(bad)).isInstanceOf(DataException.class)
                .hasMessageContaining(bad.toString()).hasMessageContaining("bad IDX magic");

        Path truncated = tmp.resolve("truncated.gz");
        Files.write(truncated, gzip(idx(0x0803, new int[] {10, 28, 28}, new byte[100])));
        assertThatThrownBy(() -> Idx.read(truncated)).hasMessageContaining(truncated.toString()).hasMessageContaining("truncated");

        Path images = tmp.resolve("i");
        Path labels = tmp.resolve("l");
        Files.write(images, idx(0x0803, new int[] {3, 2, 2}, new byte[12]));
        Files.write(labels, idx(0x0801, new int[] {2}, new byte[2]));
        assertThatThrownBy(() -> Idx.images(images, labels, null)).hasMessageContaining("2 labels for 3 images");

        Path empty = tmp.resolve("empty");
        Files.write(empty, new byte[0]);
        assertThatThrownBy(() -> Idx.read(empty)).hasMessageContaining("empty or truncated");
    }
}
