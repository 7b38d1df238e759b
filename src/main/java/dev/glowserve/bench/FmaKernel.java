package dev.glowserve.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** The FMA chains of {@link FmaPeak}, in a class of their own: only a JVM with the Vector API's module loads it. */
final class FmaKernel {

    private static final int CHAINS = 12;

    private FmaKernel() {}

    static int vectorBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }

    /** GFLOP/s of {@code threads} threads running FMA chains side by side for about {@code seconds}. */
    static double run(int threads, double seconds) throws InterruptedException {
        long[] flops = new long[threads];
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int index = t;
            Thread w = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                flops[index] = chains((long) (seconds * 1e9));
            });
            w.start();
            workers.add(w);
        }
        long t0 = System.nanoTime();
        start.countDown();
        for (Thread w : workers) {
            w.join();
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        long total = 0;
        for (long f : flops) {
            total += f;
        }
        return total / elapsed / 1e9;
    }

    /** FMAs on independent accumulators until {@code nanos} have passed; the flops done. */
    private static long chains(long nanos) {
        long rounds = 0;
        float sink = 0;
        long until = System.nanoTime() + nanos;
        while (System.nanoTime() < until) {
            sink += kernel(ROUNDS);
            rounds += ROUNDS;
        }
        if (sink == 42) {
            System.out.print(""); // keeps the chains from being optimised away
        }
        return rounds * CHAINS * FloatVector.SPECIES_PREFERRED.length() * 2L;
    }

    private static final int ROUNDS = 1 << 16;

    /** {@code rounds} times an FMA on each of 12 accumulators; a small method the JIT compiles whole. */
    private static float kernel(int rounds) {
        VectorSpecies<Float> species = FloatVector.SPECIES_PREFERRED;
        FloatVector a = FloatVector.broadcast(species, 0.999999f);
        FloatVector b = FloatVector.broadcast(species, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(species, 1f);
        FloatVector c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < rounds; i++) {
            c0 = c0.fma(a, b);
            c1 = c1.fma(a, b);
            c2 = c2.fma(a, b);
            c3 = c3.fma(a, b);
            c4 = c4.fma(a, b);
            c5 = c5.fma(a, b);
            c6 = c6.fma(a, b);
            c7 = c7.fma(a, b);
            c8 = c8.fma(a, b);
            c9 = c9.fma(a, b);
            c10 = c10.fma(a, b);
            c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
    }

}
