package dev.glowserve.flow;

import java.util.Locale;

/**
 * How a step of flow mixes its channels before the coupling (the paper's section 5.1): the invertible 1×1
 * convolution, LU-parametrised (the paper's choice, the default) or a plain matrix, or a fixed permutation, reversed
 * (RealNVP's) or shuffled once at random, with log-determinant 0.
 */
public enum Permutation {
    CONV_LU("conv-lu"), CONV("conv"), REVERSE("reverse"), SHUFFLE("shuffle");

    private final String id;

    Permutation(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** Learnt (a 1×1 convolution), or fixed. */
    public boolean learnt() {
        return this == CONV_LU || this == CONV;
    }

    public static Permutation of(String id) {
        String key = id.toLowerCase(Locale.ROOT);
        for (Permutation p : values()) {
            if (p.id.equals(key)) {
                return p;
            }
        }
        throw new IllegalArgumentException("permutation '" + id + "' is not one of conv-lu, conv, reverse, shuffle");
    }

    @Override
    public String toString() {
        return id;
    }
}
