package dev.glowserve.train;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * One point of the learning curve: train bits/dim (mean since the last point) and, at evals, test bits/dim of the
 * live weights and of their moving average.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record HistoryPoint(
        @JsonProperty("step") long step,
        @JsonProperty("seconds") double seconds,
        @JsonProperty("train_bpd") Double trainBpd,
        @JsonProperty("test_bpd") Double testBpd,
        @JsonProperty("learning_rate") Double learningRate,
        @JsonProperty("ema_test_bpd") Double emaTestBpd) {}
