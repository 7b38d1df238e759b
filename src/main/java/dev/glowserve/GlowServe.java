package dev.glowserve;

/** Entry point of the executable jar. */
public final class GlowServe {

    private GlowServe() {}

    public static void main(String[] args) {
        System.out.println("glow-serve");
    }
}
