package dev.glowserve;

import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** The Spring Boot application behind {@code serve}. */
@SpringBootApplication
@ConfigurationPropertiesScan
public class GlowServeApplication {}
