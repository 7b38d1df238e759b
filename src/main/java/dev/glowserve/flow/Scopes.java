package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;

import java.util.function.Supplier;

/**
 * Frees every intermediate of a computation as soon as it is done. Arrays made inside are closed
 * when the scope ends, except the returned ones, which move to the enclosing scope. Autograd keeps
 * its own references to saved tensors, so this is safe in training too.
 */
public final class Scopes {

    private Scopes() {}

    public static NDList run(Supplier<NDList> body) {
        NDList out;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            out = body.get();
            NDScope.unregister(out);
        }
        out.forEach(NDScope::register);
        return out;
    }

    public static NDArray one(Supplier<NDArray> body) {
        return run(() -> new NDList(body.get())).singletonOrThrow();
    }
}
