package dev.glowserve.runtime;

import ai.djl.engine.Engine;
import com.sun.jna.NativeLibrary;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's warnings stay out of normal output, its errors do not. DJL's JNI layer enters the deprecated
 * {@code AutoNonVariableTypeMode} on every inference call, and libtorch warns about that once per thread ("... under
 * risk of producing silent wrong result in some edge cases"): the edge cases are autograd's view and in-place
 * tracking, which inference here never uses (every pass runs under no-grad, and the results are checked against
 * eager, float64 and the PyTorch peer in the tests). With it go NNPACK's "Unsupported hardware" lines, a fallback
 * libtorch takes by itself. c10's threshold ({@code FLAGS_caffe2_log_level}) is raised from WARNING to ERROR once the
 * engine has loaded it; {@code TORCH_CPP_LOG_LEVEL} set by the operator keeps libtorch's own choice.
 */
public final class TorchWarnings {

    private static final Logger LOG = LoggerFactory.getLogger(TorchWarnings.class);
    /** c10's levels: INFO 0, WARNING 1, ERROR 2, FATAL 3. */
    private static final int ERROR = 2;
    private static boolean done;

    private TorchWarnings() {}

    /** After the engine is loaded and before its first operation. Idempotent. */
    public static synchronized void quiet() {
        if (done) {
            return;
        }
        done = true;
        if (System.getenv("TORCH_CPP_LOG_LEVEL") != null) {
            return;
        }
        Engine.getInstance(); // loads libc10
        try {
            NativeLibrary.getInstance("c10").getGlobalVariableAddress("FLAGS_caffe2_log_level").setInt(0, ERROR);
        } catch (LinkageError | RuntimeException e) { // JNA itself may not load (a noexec temporary folder)
            LOG.debug("libtorch's warnings stay on: {}", e.getMessage());
        }
    }
}
