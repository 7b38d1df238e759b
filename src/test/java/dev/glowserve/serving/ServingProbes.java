package dev.glowserve.serving;

import ai.djl.ndarray.BaseNDManager;

/** What tests outside this package may read of a served model's insides: the native arrays its model still holds. */
public final class ServingProbes {

    private ServingProbes() {}

    /** Arrays alive on the manager of every loaded model the registry serves. */
    public static int managedArrays(ModelRegistry registry) {
        int n = 0;
        for (ServedModel m : registry.models()) {
            if (m.available()) {
                n += ((BaseNDManager) m.runner().glow().manager()).getManagedArrays().size();
            }
        }
        return n;
    }
}
