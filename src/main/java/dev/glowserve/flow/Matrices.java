package dev.glowserve.flow;

import java.util.Random;

/**
 * Dense linear algebra on small square matrices in double precision (the 1x1 convolution's C×C
 * weights), where DJL offers no LU, QR or determinant.
 */
public final class Matrices {

    private Matrices() {}

    /** P·L·U factors with P a permutation, L unit lower, U upper: A = P·L·U. */
    public record Lu(double[][] p, double[][] l, double[][] u) {}

    public static double[][] identity(int n) {
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) {
            m[i][i] = 1;
        }
        return m;
    }

    public static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length, k = b.length, m = b[0].length;
        double[][] c = new double[n][m];
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < k; t++) {
                double v = a[i][t];
                for (int j = 0; j < m; j++) {
                    c[i][j] += v * b[t][j];
                }
            }
        }
        return c;
    }

    public static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    /** LU with partial pivoting, as scipy.linalg.lu returns it: A = P·L·U. */
    public static Lu lu(double[][] a) {
        int n = a.length;
        double[][] u = copy(a);
        double[][] l = identity(n);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int r = col + 1; r < n; r++) {
                if (Math.abs(u[r][col]) > Math.abs(u[pivot][col])) {
                    pivot = r;
                }
            }
            if (pivot != col) {
                swap(u, pivot, col);
                int t = perm[pivot];
                perm[pivot] = perm[col];
                perm[col] = t;
                for (int j = 0; j < col; j++) {
                    double v = l[pivot][j];
                    l[pivot][j] = l[col][j];
                    l[col][j] = v;
                }
            }
            double d = u[col][col];
            for (int r = col + 1; r < n; r++) {
                double f = d == 0 ? 0 : u[r][col] / d;
                l[r][col] = f;
                for (int j = col; j < n; j++) {
                    u[r][j] -= f * u[col][j];
                }
            }
        }
        // Rows were permuted as perm: (P^T A) = L U, so P[perm[i]][i] = 1.
        double[][] p = new double[n][n];
        for (int i = 0; i < n; i++) {
            p[perm[i]][i] = 1;
        }
        return new Lu(p, l, u);
    }

    /** log|det A| through LU; -Infinity for a singular matrix. */
    public static double logAbsDet(double[][] a) {
        Lu f = lu(a);
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.log(Math.abs(f.u()[i][i]));
        }
        return s;
    }

    /** Inverse through LU: A⁻¹ = U⁻¹·L⁻¹·Pᵀ. */
    public static double[][] inverse(double[][] a) {
        Lu f = lu(a);
        return multiply(multiply(invertUpper(f.u()), invertUnitLower(f.l())), transpose(f.p()));
    }

    public static double[][] invertUnitLower(double[][] l) {
        int n = l.length;
        double[][] inv = identity(n);
        for (int col = 0; col < n; col++) {
            for (int i = col + 1; i < n; i++) {
                double s = 0;
                for (int k = col; k < i; k++) {
                    s += l[i][k] * inv[k][col];
                }
                inv[i][col] = -s;
            }
        }
        return inv;
    }

    public static double[][] invertUpper(double[][] u) {
        int n = u.length;
        double[][] inv = new double[n][n];
        for (int col = n - 1; col >= 0; col--) {
            inv[col][col] = 1 / u[col][col];
            for (int i = col - 1; i >= 0; i--) {
                double s = 0;
                for (int k = i + 1; k <= col; k++) {
                    s += u[i][k] * inv[k][col];
                }
                inv[i][col] = -s / u[i][i];
            }
        }
        return inv;
    }

    /** A random rotation: the Q of a QR decomposition of a standard normal matrix (Gram-Schmidt). */
    public static double[][] randomOrthogonal(int n, Random random) {
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                a[i][j] = random.nextGaussian();
            }
        }
        double[][] q = new double[n][n];
        for (int col = 0; col < n; col++) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = a[i][col];
            }
            for (int pass = 0; pass < 2; pass++) { // re-orthogonalise once for stability
                for (int prev = 0; prev < col; prev++) {
                    double dot = 0;
                    for (int i = 0; i < n; i++) {
                        dot += q[i][prev] * v[i];
                    }
                    for (int i = 0; i < n; i++) {
                        v[i] -= dot * q[i][prev];
                    }
                }
            }
            double norm = 0;
            for (double x : v) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                q[i][col] = v[i] / norm;
            }
        }
        return q;
    }

    public static double[] flatten(double[][] a) {
        int n = a.length, m = a[0].length;
        double[] f = new double[n * m];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, f, i * m, m);
        }
        return f;
    }

    public static double[][] square(double[] flat, int n) {
        if (flat.length != n * n) {
            throw new IllegalArgumentException(flat.length + " values are not a " + n + "x" + n + " matrix");
        }
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(flat, i * n, a[i], 0, n);
        }
        return a;
    }

    private static double[][] copy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    private static void swap(double[][] a, int i, int j) {
        double[] t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
