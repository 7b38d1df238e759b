package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

/**
 * Running log|det J| of one pass: a per-image tensor (B) that lives in the input's manager and
 * outlives the per-layer scopes, plus, in inference, a parameter-only constant kept in double so
 * that no tiny tensor op runs for it on every call.
 */
public final class LogDet {

    private double constant;
    private NDArray tensor;

    public LogDet(NDArray input) {
        tensor = input.getManager().zeros(new Shape(input.getShape().get(0)), input.getDataType());
        NDScope.unregister(tensor);
    }

    public void add(double value) {
        constant += value;
    }

    public void add(NDArray value) {
        replace(tensor.add(value));
    }

    public void subtract(NDArray value) {
        replace(tensor.sub(value));
    }

    private void replace(NDArray next) {
        NDScope.unregister(next);
        tensor.close();
        tensor = next;
    }

    /** The per-image total, shape (B), handed to the enclosing scope. */
    public NDArray total() {
        NDScope.register(tensor);
        return constant == 0 ? tensor : Tensors.plus(tensor, constant);
    }
}
