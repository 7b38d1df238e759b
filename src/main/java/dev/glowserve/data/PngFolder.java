package dev.glowserve.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A folder of same-size PNGs, gray or RGB. With sub-folders, each sub-folder is a class (sorted by
 * name); without, the images are unlabelled.
 */
public final class PngFolder {

    private static final long MAX_PIXELS = 4096L * 4096;

    private PngFolder() {}

    public static ImageSet read(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new DataException(dir + ": not found or not a folder");
        }
        List<Path> classDirs = list(dir).stream().filter(Files::isDirectory).sorted().toList();
        List<String> classNames = classDirs.isEmpty() ? null : classDirs.stream().map(p -> p.getFileName().toString()).toList();
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        if (classDirs.isEmpty()) {
            files.addAll(pngs(dir));
        } else {
            for (int c = 0; c < classDirs.size(); c++) {
                for (Path p : pngs(classDirs.get(c))) {
                    files.add(p);
                    labels.add(c);
                }
            }
        }
        if (files.isEmpty()) {
            throw new DataException(dir + ": no .png files found");
        }
        Png.Image first = decode(files.get(0));
        int size = first.pixels().length;
        byte[] pixels = new byte[Math.multiplyExact(size, files.size())];
        for (int i = 0; i < files.size(); i++) {
            Png.Image img = i == 0 ? first : decode(files.get(i));
            if (img.channels() != first.channels() || img.height() != first.height() || img.width() != first.width()) {
                throw new DataException(files.get(i) + ": " + img.width() + "×" + img.height() + " with "
                        + Png.describe(img.channels()) + ", but " + files.get(0) + " is " + first.width() + "×"
                        + first.height() + " with " + Png.describe(first.channels()) + " (all images must match)");
            }
            System.arraycopy(img.pixels(), 0, pixels, i * size, size);
        }
        int[] lb = classNames == null ? null : labels.stream().mapToInt(Integer::intValue).toArray();
        return new ImageSet(pixels, files.size(), first.channels(), first.height(), first.width(), lb, classNames, dir.toString());
    }

    private static Png.Image decode(Path file) {
        try {
            return Png.decode(Files.readAllBytes(file), MAX_PIXELS);
        } catch (DataException e) {
            throw new DataException(file + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DataException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private static List<Path> pngs(Path dir) {
        return list(dir).stream().filter(p -> Files.isRegularFile(p) && p.getFileName().toString().toLowerCase().endsWith(".png"))
                .sorted().toList();
    }

    private static List<Path> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        } catch (NoSuchFileException e) {
            throw new DataException(dir + ": not found");
        } catch (IOException e) {
            throw new DataException(dir + ": cannot list (" + e.getMessage() + ")", e);
        }
    }
}
