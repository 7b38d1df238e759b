package dev.glowserve.cli;

import picocli.CommandLine.Option;

/** -K, -L and --hidden: the architecture of a model the command builds (train, bench's random model). */
public final class ArchitectureOptions {

    @Option(names = {"-K", "--flows"}, description = "Flow steps per level. Default: ${DEFAULT-VALUE}")
    int flows = 16;

    @Option(names = {"-L", "--levels"}, description = "Levels. Default: ${DEFAULT-VALUE}")
    int levels = 2;

    @Option(names = "--hidden", description = "Coupling hidden channels. Default: ${DEFAULT-VALUE}")
    int hidden = 256;
}
