package dev.glowserve.flow;

/**
 * A class-conditional model's encoding when the class is unknown: the latents under the most probable class, and
 * per image the log-density marginal over classes with a uniform class prior, {@code log Σ_k p(x|k)/K}, and
 * {@code p(class | x)}.
 */
public record Marginal(Encoding encoding, int[] labels, double[] logPx, double[][] classPosterior) {

    /**
     * From the encoding under the chosen classes {@code best}, its per-image log p(x | best), and the top level's
     * log-density under every class ({@code byClass}, row-major (B, K)).
     */
    static Marginal of(Encoding encoding, int[] best, double[] byClass, int classes) {
        int batch = best.length;
        double[] logPx = Tensors.toDoubles(encoding.logPx());
        double[] marginal = new double[batch];
        double[][] posterior = new double[batch][classes];
        for (int i = 0; i < batch; i++) {
            double top = byClass[i * classes + best[i]];
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                sum += Math.exp(byClass[i * classes + c] - top);
            }
            double lse = top + Math.log(sum);
            for (int c = 0; c < classes; c++) {
                posterior[i][c] = Math.exp(byClass[i * classes + c] - lse);
            }
            // p(x) = p(x | best) · Σ_k p_top(z|k) / p_top(z|best) / K
            marginal[i] = logPx[i] + (lse - top) - Math.log(classes);
        }
        return new Marginal(encoding, best, marginal, posterior);
    }
}
