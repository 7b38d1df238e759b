package dev.glowserve.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import static org.assertj.core.api.Assertions.assertThat;

class NativeAllocatorTest {

    /** CI and the Docker image run Debian (glibc): the settings must be accepted there. */
    @Test
    @EnabledOnOs(OS.LINUX)
    void glibcAcceptsTheSettings() {
        assertThat(NativeAllocator.tune(true)).isTrue();
        assertThat(NativeAllocator.tune(true)).as("idempotent").isTrue();
    }
}
