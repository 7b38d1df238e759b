package dev.glowserve.artifact;

/** A model artifact that cannot be used, with one message that names the file, tensor or field. */
public class ArtifactException extends RuntimeException {

    public ArtifactException(String message) {
        super(message);
    }

    public ArtifactException(String message, Throwable cause) {
        super(message, cause);
    }
}
