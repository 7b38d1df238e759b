package dev.glowserve.data;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.List;

/**
 * PNG ↔ C×H×W unsigned bytes. The header is read before any pixel is decoded, so a file claiming
 * huge dimensions is refused without allocating them. 16-bit samples keep their high byte;
 * transparency is refused rather than guessed away.
 *
 * <p>Over 300 lines because reading (the header checked first, ImageIO's rasters and palettes to bytes), fitting a
 * picture to a model's shape (luma, area resampling) and writing are one format's handling, sharing its checks.
 */
public final class Png {

    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private Png() {}

    /** A decoded image: {@code channels} is 1 (gray) or 3 (RGB). */
    public record Image(int channels, int height, int width, byte[] pixels) {

        /** True for gray images and for RGB images whose three channels are equal everywhere. */
        public boolean isGray() {
            if (channels == 1) {
                return true;
            }
            int plane = height * width;
            for (int i = 0; i < plane; i++) {
                if (pixels[i] != pixels[plane + i] || pixels[i] != pixels[2 * plane + i]) {
                    return false;
                }
            }
            return true;
        }

        /** The same picture with {@code target} channels, where that conversion loses nothing. */
        public Image withChannels(int target) {
            if (target == channels) {
                return this;
            }
            int plane = height * width;
            if (target == 1 && channels == 3 && isGray()) {
                byte[] g = new byte[plane];
                System.arraycopy(pixels, 0, g, 0, plane);
                return new Image(1, height, width, g);
            }
            if (target == 3 && channels == 1) {
                byte[] rgb = new byte[3 * plane];
                for (int c = 0; c < 3; c++) {
                    System.arraycopy(pixels, 0, rgb, c * plane, plane);
                }
                return new Image(3, height, width, rgb);
            }
            throw new DataException("image has " + describe(channels) + " but " + describe(target)
                    + " is expected, and converting would lose colour");
        }

        /**
         * The picture made to fit another shape, for a caller who asked for it: colour to gray by luma (ITU-R BT.601)
         * or gray to colour by copying, then scaled by area averaging to fit inside {@code height × width} with its
         * proportions kept, centred on black (the background of the images these models learn).
         */
        public Image fitTo(int targetChannels, int targetHeight, int targetWidth) {
            Image gray = channels == targetChannels || isGray() || targetChannels != 1 ? this : luma();
            Image scaled = gray.scaledToFit(targetHeight, targetWidth);
            return scaled.channels == targetChannels ? scaled : scaled.withChannels(targetChannels);
        }

        private Image luma() {
            int plane = height * width;
            byte[] g = new byte[plane];
            for (int i = 0; i < plane; i++) {
                double y = 0.299 * (pixels[i] & 0xff) + 0.587 * (pixels[plane + i] & 0xff) + 0.114 * (pixels[2 * plane + i] & 0xff);
                g[i] = (byte) Math.min(255, Math.round(y));
            }
            return new Image(1, height, width, g);
        }

        private Image scaledToFit(int targetHeight, int targetWidth) {
            if (height == targetHeight && width == targetWidth) {
                return this;
            }
            double s = Math.min((double) targetWidth / width, (double) targetHeight / height);
            int h = Math.max(1, Math.min(targetHeight, (int) Math.round(height * s)));
            int w = Math.max(1, Math.min(targetWidth, (int) Math.round(width * s)));
            int top = (targetHeight - h) / 2, left = (targetWidth - w) / 2;
            byte[] out = new byte[channels * targetHeight * targetWidth];
            for (int c = 0; c < channels; c++) {
                double[] rows = resampleRows(pixels, c * height * width, height, width, w); // height × w
                double[] both = resampleColumns(rows, height, w, h);                       // h × w
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        out[(c * targetHeight + top + y) * targetWidth + left + x] = (byte) Math.min(255, Math.round(both[y * w + x]));
                    }
                }
            }
            return new Image(channels, targetHeight, targetWidth, out);
        }
    }

    /** Each of {@code rows} rows of {@code n} values (bytes from {@code offset}) averaged over the areas of {@code m} cells. */
    private static double[] resampleRows(byte[] src, int offset, int rows, int n, int m) {
        double[] values = new double[rows * n];
        for (int i = 0; i < values.length; i++) {
            values[i] = src[offset + i] & 0xff;
        }
        double[] out = new double[rows * m];
        for (int r = 0; r < rows; r++) {
            area(values, r * n, 1, n, out, r * m, 1, m);
        }
        return out;
    }

    /** The columns of a {@code rows × cols} grid averaged down (or up) to {@code m} rows. */
    private static double[] resampleColumns(double[] src, int rows, int cols, int m) {
        double[] out = new double[m * cols];
        for (int col = 0; col < cols; col++) {
            area(src, col, cols, rows, out, col, cols, m);
        }
        return out;
    }

    /** Area averaging of {@code n} samples (stride {@code in}) onto {@code m} (stride {@code step}): exact cell overlaps. */
    private static void area(double[] src, int from, int in, int n, double[] dst, int to, int step, int m) {
        double scale = (double) n / m;
        for (int j = 0; j < m; j++) {
            double a = j * scale, b = (j + 1) * scale, sum = 0;
            for (int i = (int) Math.floor(a); i < Math.min(n, (int) Math.ceil(b)); i++) {
                double overlap = Math.min(b, i + 1) - Math.max(a, i);
                sum += overlap * src[from + i * in];
            }
            dst[to + j * step] = sum / scale;
        }
    }

    static String describe(int channels) {
        return switch (channels) {
            case 1 -> "1 channel (grayscale)";
            case 3 -> "3 channels (RGB)";
            default -> channels + " channels";
        };
    }

    public static boolean looksLikePng(byte[] bytes) {
        if (bytes == null || bytes.length < SIGNATURE.length) {
            return false;
        }
        for (int i = 0; i < SIGNATURE.length; i++) {
            if (bytes[i] != SIGNATURE[i]) {
                return false;
            }
        }
        return true;
    }

    /** Decodes a PNG whose width × height is at most {@code maxPixels}. */
    public static Image decode(byte[] bytes, long maxPixels) {
        if (!looksLikePng(bytes)) {
            throw new DataException("not a PNG (missing the PNG signature)");
        }
        // In memory, never ImageIO's file cache: the JVM closes file-cached streams in a shutdown hook,
        // which would fail the requests a graceful shutdown is still draining.
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("png");
            if (!readers.hasNext()) {
                throw new IllegalStateException("no PNG reader in this JVM");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long w = reader.getWidth(0);
                long h = reader.getHeight(0);
                if (w <= 0 || h <= 0 || w * h > maxPixels) {
                    throw new DataException("PNG declares " + w + "×" + h + " pixels, more than the limit of "
                            + maxPixels);
                }
                BufferedImage image = reader.read(0);
                return fromBufferedImage(image);
            } finally {
                reader.dispose();
            }
        } catch (IIOException | IllegalArgumentException | IndexOutOfBoundsException e) {
            throw new DataException("corrupt PNG (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new DataException("cannot read PNG (" + e.getMessage() + ")");
        }
    }

    static Image fromBufferedImage(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        int plane = w * h;
        if (image.getColorModel() instanceof IndexColorModel icm) {
            return fromPalette(image, icm, w, h);
        }
        Raster raster = image.getRaster();
        int bands = raster.getNumBands();
        boolean alpha = image.getColorModel().hasAlpha();
        int colourBands = alpha ? bands - 1 : bands;
        if (colourBands != 1 && colourBands != 3) {
            throw new DataException("unsupported PNG with " + bands + " bands");
        }
        if (alpha) {
            int[] a = raster.getSamples(0, 0, w, h, bands - 1, (int[]) null);
            int opaque = (1 << raster.getSampleModel().getSampleSize(bands - 1)) - 1;
            for (int v : a) {
                if (v != opaque) {
                    throw new DataException("PNG has transparent pixels; send an opaque image");
                }
            }
        }
        byte[] out = new byte[colourBands * plane];
        int[] samples = new int[plane];
        for (int c = 0; c < colourBands; c++) {
            raster.getSamples(0, 0, w, h, c, samples);
            int shift = Math.max(0, raster.getSampleModel().getSampleSize(c) - 8);
            int up = Math.max(0, 8 - raster.getSampleModel().getSampleSize(c));
            int maxLow = (1 << raster.getSampleModel().getSampleSize(c)) - 1;
            for (int i = 0; i < plane; i++) {
                int v = samples[i];
                out[c * plane + i] = (byte) (up > 0 ? v * 255 / maxLow : v >> shift);
            }
        }
        return new Image(colourBands, h, w, out);
    }

    private static Image fromPalette(BufferedImage image, IndexColorModel icm, int w, int h) {
        int plane = w * h;
        boolean gray = true;
        for (int i = 0; i < icm.getMapSize(); i++) {
            if (icm.getRed(i) != icm.getGreen(i) || icm.getRed(i) != icm.getBlue(i)) {
                gray = false;
            }
        }
        int[] index = image.getRaster().getSamples(0, 0, w, h, 0, (int[]) null);
        byte[] out = new byte[(gray ? 1 : 3) * plane];
        for (int i = 0; i < plane; i++) {
            int p = index[i];
            if (icm.getAlpha(p) != 255) {
                throw new DataException("PNG has transparent pixels; send an opaque image");
            }
            out[i] = (byte) icm.getRed(p);
            if (!gray) {
                out[plane + i] = (byte) icm.getGreen(p);
                out[2 * plane + i] = (byte) icm.getBlue(p);
            }
        }
        return new Image(gray ? 1 : 3, h, w, out);
    }

    /** Encodes C×H×W bytes (C = 1 or 3) as an 8-bit gray or RGB PNG. */
    public static byte[] encode(byte[] pixels, int channels, int height, int width) {
        BufferedImage img = toBufferedImage(pixels, channels, height, width);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
            if (!ImageIO.write(img, "png", stream)) {
                throw new IllegalStateException("no PNG writer in this JVM");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static BufferedImage toBufferedImage(byte[] pixels, int channels, int height, int width) {
        int plane = height * width;
        if (channels == 1) {
            BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
            img.getRaster().setDataElements(0, 0, width, height, pixels.clone());
            return img;
        }
        if (channels != 3) {
            throw new IllegalArgumentException("only 1 or 3 channels can be written, got " + channels);
        }
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        WritableRaster r = img.getRaster();
        int[] band = new int[plane];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < plane; i++) {
                band[i] = pixels[c * plane + i] & 0xff;
            }
            r.setSamples(0, 0, width, height, c, band);
        }
        return img;
    }

    /**
     * Tiles images (each C×H×W) into one PNG, {@code columns} per row, with a {@code gap}-pixel
     * border of mid-gray between them.
     */
    public static byte[] grid(List<byte[]> images, int channels, int height, int width, int columns, int gap) {
        int n = images.size();
        int cols = Math.max(1, Math.min(columns, n));
        int rows = (n + cols - 1) / cols;
        int gw = cols * width + (cols + 1) * gap;
        int gh = rows * height + (rows + 1) * gap;
        int plane = gw * gh;
        byte[] canvas = new byte[channels * plane];
        java.util.Arrays.fill(canvas, (byte) 128);
        for (int k = 0; k < n; k++) {
            byte[] img = images.get(k);
            int top = gap + (k / cols) * (height + gap);
            int left = gap + (k % cols) * (width + gap);
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < height; y++) {
                    System.arraycopy(img, c * height * width + y * width, canvas, c * plane + (top + y) * gw + left, width);
                }
            }
        }
        return encode(canvas, channels, gh, gw);
    }
}
