package dev.glowserve.artifact;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Where an artifact's files come from: a folder, or the classpath (the shipped model). Every file is a regular
 * file whose size is checked before a byte of it is read, and messages name it by {@link #describe}: a folder's
 * label (the repository's {@code name/version} when served, so no server path reaches a client), or its path.
 */
public interface ArtifactSource {
    String describe(String file);

    /** The file's size in bytes, or -1 where only reading tells (the classpath). */
    long size(String file) throws IOException;

    InputStream open(String file) throws IOException;

    /** The whole file, refused before it is read when larger than {@code max} bytes. */
    default byte[] read(String file, long max) throws IOException {
        long size = size(file);
        if (size > max) {
            throw new ArtifactException(describe(file) + ": " + size + " bytes, more than the limit of " + max);
        }
        try (InputStream in = open(file)) {
            byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 16, max + 1));
            if (bytes.length > max) {
                throw new ArtifactException(describe(file) + ": more than the limit of " + max + " bytes");
            }
            return bytes;
        }
    }

    static ArtifactSource folder(Path dir) {
        return folder(dir, dir.toString());
    }

    /** A folder whose files are named {@code label/file} in messages. */
    static ArtifactSource folder(Path dir, String label) {
        return new ArtifactSource() {
            @Override
            public String describe(String file) {
                return label + "/" + file;
            }

            @Override
            public long size(String file) throws IOException {
                Path p = dir.resolve(file);
                if (Files.exists(p) && !Files.isRegularFile(p)) { // a device or a folder: no size to trust
                    throw new ArtifactException(describe(file) + ": not a regular file");
                }
                return Files.size(p);
            }

            @Override
            public InputStream open(String file) throws IOException {
                size(file);
                return Files.newInputStream(dir.resolve(file));
            }
        };
    }

    static ArtifactSource classpath(String resourceDir) {
        String base = resourceDir.endsWith("/") ? resourceDir : resourceDir + "/";
        return new ArtifactSource() {
            @Override
            public String describe(String file) {
                return "classpath:" + base + file;
            }

            @Override
            public long size(String file) throws IOException {
                if (ModelArtifact.class.getClassLoader().getResource(base + file) == null) {
                    throw new NoSuchFileException(describe(file));
                }
                return -1;
            }

            @Override
            public InputStream open(String file) throws IOException {
                InputStream in = ModelArtifact.class.getClassLoader().getResourceAsStream(base + file);
                if (in == null) {
                    throw new NoSuchFileException(describe(file));
                }
                return in;
            }
        };
    }

    /** "classpath:dir" or a folder path. */
    static ArtifactSource parse(String spec) {
        return parse(spec, spec);
    }

    /** "classpath:dir" or a folder named {@code label} in messages. */
    static ArtifactSource parse(String spec, String label) {
        return spec.startsWith("classpath:") ? classpath(spec.substring("classpath:".length())) : folder(Path.of(spec), label);
    }
}
