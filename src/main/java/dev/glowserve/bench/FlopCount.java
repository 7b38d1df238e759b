package dev.glowserve.bench;

import dev.glowserve.flow.GlowConfig;

/**
 * Floating-point operations per image of one encode (a decode does the same work), counted layer
 * by layer from the architecture: a multiply-add is 2 FLOPs; element-wise ops count 1 per element.
 * Convolutions count as dense 3×3 / 1×1 convolutions however they are computed.
 */
public final class FlopCount {

    private FlopCount() {}

    public static double perImage(GlowConfig c) {
        double total = 0;
        int hid = c.hiddenChannels();
        for (int l = 0; l < c.levels(); l++) {
            double hw = (double) c.levelHeight(l) * c.levelWidth(l);
            int ch = c.flowChannels(l);
            int half = ch / 2;
            int couplingOut = c.affine() ? ch : half;
            double step = 0;
            step += 2 * ch * hw;                                // ActNorm: add, multiply
            step += 2.0 * ch * ch * hw;                         // 1x1 invertible conv
            step += 2.0 * 9 * half * hid * hw + hid * hw;       // conv3x3 + bias
            step += hid * hw;                                   // ReLU
            step += 2.0 * hid * hid * hw + hid * hw;            // conv1x1 + bias
            step += hid * hw;                                   // ReLU
            step += 2.0 * 9 * hid * couplingOut * hw + couplingOut * hw; // ZeroConv 3x3
            step += (c.affine() ? 7 : 1) * half * hw;           // shift, sigmoid, log, scale, sum
            total += c.flowsPerLevel() * step;
            if (l < c.levels() - 1) {
                total += 2.0 * 9 * half * ch * hw + ch * hw;    // split prior ZeroConv
                total += 5 * half * hw;                         // standardise and log-density
            } else {
                total += 5 * ch * hw;
            }
        }
        return total;
    }
}
