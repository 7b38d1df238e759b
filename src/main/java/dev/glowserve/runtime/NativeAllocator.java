package dev.glowserve.runtime;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps freed tensor memory in the process instead of handing it back to the kernel: with glibc's defaults
 * PyTorch's multi-megabyte activations are mmap'd and unmapped on every op, so each new tensor is faulted in and
 * zeroed page by page. The mmap threshold at glibc's maximum (32 MiB) and no trimming keep the memory for reuse, at
 * the cost of keeping the process's peak heap (figures in docs/PERFORMANCE.md).
 */
public final class NativeAllocator {

    static final int M_TRIM_THRESHOLD = -1;
    static final int M_MMAP_THRESHOLD = -3;
    /** glibc refuses a larger mmap threshold (HEAP_MAX_SIZE / 2 on 64-bit). */
    static final int MMAP_THRESHOLD = 32 << 20;

    private static final Logger log = LoggerFactory.getLogger(NativeAllocator.class);
    private static volatile Boolean tuned;

    /** glibc's {@code mallopt}; absent on musl or macOS. */
    interface CLibrary extends Library {
        int mallopt(int param, int value);
    }

    private NativeAllocator() {}

    /**
     * Applies the settings once per process, before the first tensor is made, when {@code enabled}
     * ({@code glow.inference.malloc-tuning}, the command line's {@code --[no-]malloc-tuning}); disabled, the C
     * library keeps its defaults.
     *
     * @return whether glibc's settings are applied (false when switched off or not on glibc)
     */
    public static synchronized boolean tune(boolean enabled) {
        if (tuned != null) {
            return tuned;
        }
        if (!enabled) {
            log.info("malloc tuning switched off");
            return false;
        }
        tuned = apply();
        return tuned;
    }

    private static boolean apply() {
        try {
            CLibrary c = Native.load("c", CLibrary.class);
            boolean ok = c.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                    && c.mallopt(M_TRIM_THRESHOLD, Integer.MAX_VALUE) == 1;
            if (!ok) {
                log.warn("glibc refused the malloc settings; tensors will be faulted in afresh (slower)");
            }
            return ok;
        } catch (LinkageError | RuntimeException e) { // also JNA's own class, when an earlier use failed to load it
            log.info("no glibc mallopt ({}); keeping the C library's default allocator settings", e.getMessage());
            return false;
        }
    }
}
