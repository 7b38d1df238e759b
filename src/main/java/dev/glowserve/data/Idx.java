package dev.glowserve.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** IDX files (MNIST's format), gzip-compressed or raw: unsigned-byte images (N, H, W) and labels (N). */
public final class Idx {

    private static final int UNSIGNED_BYTE = 0x08;
    private static final long MAX_ELEMENTS = 1L << 31;

    private Idx() {}

    /** Raw content and dimensions of an unsigned-byte IDX file. */
    public record Content(int[] dims, byte[] data) {}

    public static Content read(Path file) {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file))) {
            raw.mark(2);
            int b0 = raw.read(), b1 = raw.read();
            raw.reset();
            InputStream in = b0 == 0x1f && b1 == 0x8b ? new BufferedInputStream(new GZIPInputStream(raw)) : raw;
            DataInputStream data = new DataInputStream(in);
            int magic;
            try {
                magic = data.readInt();
            } catch (EOFException e) {
                throw new DataException(file + ": empty or truncated IDX file (no header)");
            }
            int zero = magic >>> 16;
            int type = (magic >>> 8) & 0xff;
            int ndims = magic & 0xff;
            if (zero != 0 || type != UNSIGNED_BYTE || ndims < 1 || ndims > 4) {
                throw new DataException(file + ": bad IDX magic 0x" + String.format("%08x", magic)
                        + " (expected unsigned-byte data, 0x000008NN)");
            }
            int[] dims = new int[ndims];
            long total = 1;
            for (int i = 0; i < ndims; i++) {
                try {
                    dims[i] = data.readInt();
                } catch (EOFException e) {
                    throw new DataException(file + ": truncated IDX header");
                }
                if (dims[i] < 0) {
                    throw new DataException(file + ": negative IDX dimension " + dims[i]);
                }
                total *= dims[i];
            }
            if (total > MAX_ELEMENTS) {
                throw new DataException(file + ": " + total + " elements is more than supported");
            }
            byte[] bytes = new byte[(int) total];
            int read = data.readNBytes(bytes, 0, bytes.length);
            if (read != bytes.length) {
                throw new DataException(file + ": truncated: header promises " + total + " bytes, file holds " + read);
            }
            return new Content(dims, bytes);
        } catch (NoSuchFileException e) {
            throw new DataException(file + ": not found");
        } catch (IOException e) {
            throw new DataException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** Images (N, H, W) and, if {@code labelsFile} is given, their labels. */
    public static ImageSet images(Path imagesFile, Path labelsFile, java.util.List<String> classNames) {
        Content images = read(imagesFile);
        if (images.dims().length != 3) {
            throw new DataException(imagesFile + ": expected a 3-dimensional image file (N, H, W), found "
                    + images.dims().length + " dimensions");
        }
        int n = images.dims()[0];
        int[] labels = null;
        if (labelsFile != null) {
            Content l = read(labelsFile);
            if (l.dims().length != 1) {
                throw new DataException(labelsFile + ": expected a 1-dimensional label file");
            }
            if (l.dims()[0] != n) {
                throw new DataException(labelsFile + ": " + l.dims()[0] + " labels for " + n + " images in " + imagesFile);
            }
            labels = new int[n];
            int max = 0;
            for (int i = 0; i < n; i++) {
                labels[i] = l.data()[i] & 0xff;
                max = Math.max(max, labels[i]);
            }
            if (classNames == null) {
                classNames = new java.util.ArrayList<>();
                for (int c = 0; c <= max; c++) {
                    classNames.add(Integer.toString(c));
                }
            } else if (max >= classNames.size()) {
                throw new DataException(labelsFile + ": label " + max + " but only " + classNames.size() + " classes");
            }
        }
        return new ImageSet(images.data(), n, 1, images.dims()[1], images.dims()[2], labels,
                labels == null ? null : classNames, imagesFile.toString());
    }
}
