package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

import java.util.Random;

/**
 * Invertible 1x1 convolution, LU-parametrised: {@code W = P·(L⊙l_mask + I)·(U⊙u_mask +
 * diag(s_sign·exp(w_s)))}, log-det {@code H·W·Σ w_s}. For inference W and W⁻¹ are assembled from
 * the factors in double precision once per parameter version; nothing is inverted per call.
 */
public final class InvConv1x1 implements InvertibleMix {

    /** W and W⁻¹ as (C, C, 1, 1) kernels, assembled in double, and Σ w_s. */
    record Assembled(NDArray weight, NDArray inverse, double logAbsDet) implements AutoCloseable {
        /** W and W⁻¹ of {@code mix} as kernels of the model's data type, outside any scope. */
        static Assembled of(FlowParameters params, InvertibleMix mix) {
            double[][][] m = mix.matrices();
            int c = m[0].length;
            Shape kernel = new Shape(c, c, 1, 1);
            NDArray weight = FlowParameters.persistent(
                    Tensors.create(params.manager(), Matrices.flatten(m[0]), kernel, params.dataType()));
            NDArray inverse = FlowParameters.persistent(
                    Tensors.create(params.manager(), Matrices.flatten(m[1]), kernel, params.dataType()));
            return new Assembled(weight, inverse, mix.logAbsDet());
        }

        @Override
        public void close() {
            weight.close();
            inverse.close();
        }
    }

    private final FlowParameters params;
    private final int channels;
    private final NDArray wP;
    private final NDArray wL;
    private final NDArray wS;
    private final NDArray wU;
    private final NDArray sSign;
    private final NDArray lMask;
    private final NDArray uMask;
    private final NDArray lEye;
    private final VersionedCache<Assembled> cache;

    InvConv1x1(FlowParameters params, String prefix, int channels, Random random) {
        this.params = params;
        this.channels = channels;
        int c = channels;
        Matrices.Lu lu = Matrices.lu(Matrices.randomOrthogonal(c, random));
        double[] s = new double[c];
        double[] sign = new double[c];
        double[][] strictUpper = new double[c][c];
        double[][] lowerMask = new double[c][c];
        double[][] upperMask = new double[c][c];
        for (int i = 0; i < c; i++) {
            s[i] = Math.log(Math.abs(lu.u()[i][i]));
            sign[i] = Math.signum(lu.u()[i][i]);
            for (int j = 0; j < c; j++) {
                if (j > i) {
                    strictUpper[i][j] = lu.u()[i][j];
                    upperMask[i][j] = 1;
                } else if (j < i) {
                    lowerMask[i][j] = 1;
                }
            }
        }
        Shape square = new Shape(c, c);
        Shape vector = new Shape(c);
        // Names and registration order follow rosinality/glow-pytorch's InvConv2dLU.
        this.wP = params.add(prefix + "w_p", square, Matrices.flatten(lu.p()), false);
        this.uMask = params.add(prefix + "u_mask", square, Matrices.flatten(upperMask), false);
        this.lMask = params.add(prefix + "l_mask", square, Matrices.flatten(lowerMask), false);
        this.sSign = params.add(prefix + "s_sign", vector, sign, false);
        this.lEye = params.add(prefix + "l_eye", square, Matrices.flatten(Matrices.identity(c)), false);
        this.wL = params.add(prefix + "w_l", square, Matrices.flatten(lu.l()), true);
        this.wS = params.add(prefix + "w_s", vector, s, true);
        this.wU = params.add(prefix + "w_u", square, Matrices.flatten(strictUpper), true);
        this.cache = new VersionedCache<>(params);
    }

    @Override
    public NDArray forward(NDArray x, Pass pass, LogDet logDet) {
        long hw = x.getShape().get(2) * x.getShape().get(3);
        NDArray kernel;
        if (pass.training()) {
            kernel = weightWithGradient().reshape(channels, channels, 1, 1);
            logDet.add(Tensors.times(wS.sum(), hw));
        } else {
            Assembled a = assembled();
            kernel = a.weight();
            logDet.add(hw * a.logAbsDet());
        }
        return conv(x, kernel);
    }

    @Override
    public NDArray reverse(NDArray y) {
        return conv(y, assembled().inverse());
    }

    static NDArray conv(NDArray x, NDArray kernel) {
        NDList out = Conv2d.conv2d(x, kernel, null, new Shape(1, 1), new Shape(0, 0), new Shape(1, 1));
        return out.singletonOrThrow();
    }

    /** W built from the factors with tensor ops, for the autograd graph. */
    NDArray weightWithGradient() {
        NDArray lower = wL.mul(lMask).add(lEye);
        NDArray diag = lEye.mul(sSign.mul(wS.exp()).reshape(1, channels));
        NDArray upper = wU.mul(uMask).add(diag);
        return wP.matMul(lower).matMul(upper);
    }

    Assembled assembled() {
        return cache.get(this::assemble);
    }

    /** The factors in double precision: P, unit-lower L, upper U (diagonal included). */
    Matrices.Lu factors() {
        int c = channels;
        double[][] p = Matrices.square(Tensors.toDoubles(wP), c);
        double[][] l = Matrices.square(Tensors.toDoubles(wL), c);
        double[][] u = Matrices.square(Tensors.toDoubles(wU), c);
        double[][] lm = Matrices.square(Tensors.toDoubles(lMask), c);
        double[][] um = Matrices.square(Tensors.toDoubles(uMask), c);
        double[] s = Tensors.toDoubles(wS);
        double[] sign = Tensors.toDoubles(sSign);
        double[][] lower = new double[c][c];
        double[][] upper = new double[c][c];
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                lower[i][j] = l[i][j] * lm[i][j] + (i == j ? 1 : 0);
                upper[i][j] = u[i][j] * um[i][j] + (i == j ? sign[i] * Math.exp(s[i]) : 0);
            }
        }
        return new Matrices.Lu(p, lower, upper);
    }

    /** log|det W| = Σ w_s, straight from the factors. */
    @Override
    public double logAbsDet() {
        double sum = 0;
        for (double v : Tensors.toDoubles(wS)) {
            sum += v;
        }
        return sum;
    }

    @Override
    public double[][][] matrices() {
        Matrices.Lu f = factors();
        double[][] w = Matrices.multiply(Matrices.multiply(f.p(), f.l()), f.u());
        double[][] inv = Matrices.multiply(
                Matrices.multiply(Matrices.invertUpper(f.u()), Matrices.invertUnitLower(f.l())),
                Matrices.transpose(f.p()));
        return new double[][][] {w, inv};
    }

    private Assembled assemble() {
        return Assembled.of(params, this);
    }
}
