package dev.glowserve;

import dev.glowserve.runtime.KernelCheck;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/** The test JVM gets oneDNN's kernels as the service and the command line do: checked before any test starts the engine. */
public class KernelCheckSession implements LauncherSessionListener {

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        System.out.println("kernel check: " + KernelCheck.ensure());
    }
}
