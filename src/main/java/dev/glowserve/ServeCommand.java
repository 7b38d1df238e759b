package dev.glowserve;

import org.springframework.boot.SpringApplication;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

import java.util.ArrayList;
import java.util.List;

/** Starts the HTTP service; every other argument goes to Spring ({@code --server.port=9090}, {@code --glow.device=cpu}, ...). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the HTTP service on the configured models (default: the shipped Fashion-MNIST model).",
                "Spring options pass through, e.g. --server.port=9090 --glow.device=cpu --glow.models[0].path=DIR"})
public final class ServeCommand implements Runnable {

    @Unmatched
    List<String> springArgs = new ArrayList<>();

    @Override
    public void run() {
        SpringApplication.run(GlowServeApplication.class, springArgs.toArray(new String[0]));
    }
}
