package dev.glowserve.runtime;

import ai.djl.engine.Engine;
import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;

/**
 * The instruction set ATen's own CPU kernels dispatch to ({@code ATEN_CPU_CAPABILITY} caps it), read from the loaded
 * libtorch, so that a capped run can show the cap took effect: oneDNN says its ISA under {@code ONEDNN_VERBOSE=1} and
 * MKL under {@code MKL_VERBOSE=1}, ATen nowhere.
 */
public final class AtenCapability {

    /** {@code at::get_cpu_capability()}: it returns a std::string, which the C++ ABI hands back through a hidden pointer. */
    private static final String SYMBOL = "_ZN2at18get_cpu_capabilityB5cxx11Ev";

    private AtenCapability() {}

    /** "AVX2", "AVX512" or "NO AVX" on x86-64; "unknown" where this libtorch does not export the function. */
    public static String get() {
        Engine.getInstance(); // loads libtorch_cpu
        try {
            Function f = NativeLibrary.getInstance("torch_cpu").getFunction(SYMBOL);
            // libstdc++'s std::string: data pointer, length, then 16 bytes of inline storage (short names stay there,
            // so nothing is allocated that would have to be freed)
            try (Memory string = new Memory(32)) {
                string.clear();
                f.invokeVoid(new Object[] {string});
                long length = string.getLong(8);
                if (length <= 0 || length > 15 || !string.getPointer(0).equals(string.share(16))) {
                    return "unknown";
                }
                return new String(string.getByteArray(16, (int) length), java.nio.charset.StandardCharsets.US_ASCII);
            }
        } catch (LinkageError | RuntimeException e) {
            return "unknown";
        }
    }
}
