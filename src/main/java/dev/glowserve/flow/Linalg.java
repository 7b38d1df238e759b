package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;

/**
 * The 1x1 convolution's log-determinant and inverse computed by libtorch both ways (GlowLinalg.torchscript): in
 * general (slogdet, inv: an LU factorisation of W) and from the LU parametrisation's factors (Σ log|s|; triangular
 * solves). For measuring what the parametrisation saves; the model itself assembles W and W⁻¹ from the factors in
 * double precision ({@link InvConv1x1}).
 */
public final class Linalg implements AutoCloseable {

    private final PtSymbolBlock module;
    private final PtNDManager manager;

    private Linalg(PtSymbolBlock module, PtNDManager manager) {
        this.module = module;
        this.manager = manager;
    }

    public static Linalg compile(NDManager manager) {
        return new Linalg(ScriptModule.compile(manager, "GlowLinalg", ScriptModule.source("GlowLinalg.torchscript")),
                (PtNDManager) manager);
    }

    /** log|det w| by a general factorisation. */
    public NDArray slogdet(NDArray w) {
        return call("slogdet", w);
    }

    /** log|det W| from the diagonal {@code s} of the factor U + diag(s). */
    public NDArray luLogDet(NDArray s) {
        return call("lu_logdet", s);
    }

    /** W⁻¹ by a general factorisation. */
    public NDArray inverse(NDArray w) {
        return call("inv", w);
    }

    /** W⁻¹ from P, unit lower L and upper U (its diagonal s included), by triangular solves. */
    public NDArray luInverse(NDArray p, NDArray l, NDArray u) {
        return call("lu_inv", p, l, u);
    }

    private NDArray call(String method, NDArray... args) {
        IValue[] in = new IValue[args.length];
        for (int i = 0; i < args.length; i++) {
            in[i] = IValue.from((PtNDArray) args[i]);
        }
        try (IValue out = IValueUtils.runMethod(module, method, in)) {
            return out.toTensor(manager);
        } finally {
            for (IValue v : in) {
                v.close();
            }
        }
    }

    @Override
    public void close() {
        module.close();
    }
}
