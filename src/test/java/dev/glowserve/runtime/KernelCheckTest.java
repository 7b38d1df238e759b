package dev.glowserve.runtime;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The convolutions this process runs are right: float32 against float64, on channels-last data at batch 20, with
 * whatever oneDNN kernels the kernel check let this JVM use (on a host whose AVX-512 1×1 convolutions sum wrong, this
 * fails without the check's cap).
 */
class KernelCheckTest {

    @Test
    void theKernelsInUseComputeRight() {
        assertThat(KernelCheck.verdict()).isNotEqualTo("not checked");
        assertThat(KernelCheck.wrongConvolutions()).as(KernelCheck.verdict()).isEmpty();
    }
}
