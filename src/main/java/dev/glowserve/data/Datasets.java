package dev.glowserve.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Finds a training or test split: an IDX folder ({@code train-images-idx3-ubyte[.gz]} and
 * {@code t10k-…}, as MNIST and Fashion-MNIST ship) or a PNG folder ({@code train/} and
 * {@code test/} inside, or one folder for both).
 */
public final class Datasets {

    public static final Path FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String INSTALL_HINT = "install Fashion-MNIST with `apt-get install dataset-fashion-mnist`"
            + " or point --data at a folder of IDX files or PNGs";
    public static final List<String> FASHION_MNIST_CLASSES = List.of(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    public enum Split {
        TRAIN("train", "train"),
        TEST("t10k", "test");

        final String idxPrefix;
        final String folder;

        Split(String idxPrefix, String folder) {
            this.idxPrefix = idxPrefix;
            this.folder = folder;
        }
    }

    private Datasets() {}

    public static ImageSet load(Path dir, Split split) {
        if (!Files.exists(dir)) {
            throw new DataException(dir + ": data folder not found; " + INSTALL_HINT);
        }
        Path images = idxFile(dir, split.idxPrefix + "-images-idx3-ubyte");
        if (images != null) {
            Path labels = idxFile(dir, split.idxPrefix + "-labels-idx1-ubyte");
            List<String> names = dir.toString().toLowerCase().contains("fashion") ? FASHION_MNIST_CLASSES : null;
            return Idx.images(images, labels, names == null ? null : new java.util.ArrayList<>(names));
        }
        if (Files.isDirectory(dir.resolve(split.folder))) {
            return PngFolder.read(dir.resolve(split.folder));
        }
        if (hasIdxOfOtherSplit(dir)) {
            throw new DataException(dir.resolve(split.idxPrefix + "-images-idx3-ubyte.gz") + ": not found; " + INSTALL_HINT);
        }
        return PngFolder.read(dir);
    }

    private static boolean hasIdxOfOtherSplit(Path dir) {
        for (Split s : Split.values()) {
            if (idxFile(dir, s.idxPrefix + "-images-idx3-ubyte") != null) {
                return true;
            }
        }
        return false;
    }

    private static Path idxFile(Path dir, String base) {
        for (String name : new String[] {base + ".gz", base}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }
}
