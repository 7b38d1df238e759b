package dev.glowserve.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine;

import java.util.Arrays;
import java.util.Set;

/** The executable jar: {@code serve} (the default), {@code score}, {@code sample}, {@code bench}, {@code train}, {@code engine}. */
@Command(name = "glow-serve", mixinStandardHelpOptions = true, versionProvider = GlowServe.Version.class,
        description = "Serve, score, sample, benchmark and train Glow normalizing-flow models.",
        subcommands = {ServeCommand.class, ScoreCommand.class, SampleCommand.class, BenchCommand.class,
                TrainCommand.class, CalibrateCommand.class, OodEvalCommand.class, DriftEvalCommand.class, AblationCommand.class, RepositoryCommand.class, EngineCommand.class,
                LoadCommand.class, ExportScriptCommand.class,
                CommandLine.HelpCommand.class})
public final class GlowServe implements Runnable {

    private static final Set<String> ROOT_OPTIONS = Set.of("-h", "--help", "-V", "--version");

    @Override
    public void run() {
        new CommandLine(new ServeCommand()).execute();
    }

    /** The command tree; errors a user can fix print as one line, anything else with its stack trace. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new GlowServe());
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof ServeCommand.ReportedStartupFailure) {
                return 1;
            }
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                    || ex instanceof java.io.UncheckedIOException || ex instanceof java.io.IOException
                    || ex instanceof dev.glowserve.artifact.ArtifactException || ex instanceof dev.glowserve.data.DataException) {
                cmd.getErr().println("glow-serve " + cmd.getCommandName() + ": " + ex.getMessage());
                return 1;
            }
            throw ex;
        });
        return cli;
    }

    public static void main(String[] args) {
        if (args.length > 0 && "kernel-check".equals(args[0])) { // the child KernelCheck starts from this jar
            dev.glowserve.runtime.KernelCheck.main(args);
            return;
        }
        if (args.length > 0 && "tune-routes".equals(args[0])) { // so does the child that tunes a model's routes
            dev.glowserve.runtime.RouteTuning.main(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        if (args.length > 0 && dev.glowserve.bench.FmaPeak.COMMAND.equals(args[0])) { // and the bench's FMA peak child
            dev.glowserve.bench.FmaPeak.main(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        // no command, or only Spring-style options (--server.port=9090): serve
        if (args.length == 0 || (args[0].startsWith("-") && !ROOT_OPTIONS.contains(args[0]))) {
            String[] serveArgs = new String[args.length + 1];
            serveArgs[0] = "serve";
            System.arraycopy(args, 0, serveArgs, 1, args.length);
            args = serveArgs;
        }
        if ("serve".equals(args[0])) {
            String tmpDir = ServeCommand.unwritableTmpDir();
            if (tmpDir != null) {
                System.err.println("glow-serve serve: " + tmpDir);
                System.exit(1);
            }
        }
        Engines.configureDefaults("serve".equals(args[0]));
        boolean help = ROOT_OPTIONS.contains(args[0]) || "help".equals(args[0]) || Arrays.asList(args).contains("--help")
                || Arrays.asList(args).contains("-h");
        if (!help) {
            boolean serve = "serve".equals(args[0]);
            if (!serve) {
                CliLogging.toStderr(); // the command's own output on stdout, warnings on stderr
            }
            dev.glowserve.runtime.KernelCheck.ensure(); // before the engine starts: it fixes oneDNN's kernels
            // the service and the model commands do it as their model loads, after its route tuning child has started
            if (!serve && !Set.of("load", "sample", "score", "calibrate", "ood-eval").contains(args[0])) {
                dev.glowserve.runtime.TorchWarnings.quiet();
            }
        }
        CommandLine cli = commandLine();
        TrainCommand.recordInvocation(args);
        int code = cli.execute(args);
        if (!"serve".equals(Arrays.stream(args).findFirst().orElse(""))) {
            System.exit(code);
        } else if (code != 0) {
            System.exit(code);
        }
    }

    /** The version from the jar's manifest (set by the build). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = GlowServe.class.getPackage().getImplementationVersion();
            return new String[] {"glow-serve " + (v == null ? "development" : v)};
        }
    }
}
