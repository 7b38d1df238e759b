package dev.glowserve.api;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

import java.time.Duration;

/**
 * {@code glow.grpc.*}: the port of the Open Inference Protocol over gRPC (0 = off), and how long calls in flight
 * may take to finish when the service stops.
 */
@Validated
@ConfigurationProperties("glow.grpc")
public record GrpcProperties(@DefaultValue("8081") @Min(0) @Max(65535) int port, @DefaultValue("20s") Duration shutdownGrace) {}
