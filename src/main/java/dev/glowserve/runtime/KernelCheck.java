package dev.glowserve.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import com.sun.jna.Library;
import com.sun.jna.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * oneDNN's widest kernels are used only once they are measured to compute right on the CPU the process runs on. On an
 * AMD Zen 5 host, libtorch 2.7.1's AVX-512 1×1 convolutions on channels-last data gave wrong sums (errors of 0.2 to
 * 2.6 on values near 1) at batch sizes above 1 whenever the output channels were above 16 and not a multiple of 16,
 * so batch-invariance and the peer reference both failed there; its AVX2 kernels were right. Which kernels a CPU gets
 * is fixed when oneDNN first runs, so the measurement runs in a child JVM before this one starts the engine: a few
 * convolutions of the shapes the models use, float32 against float64 (which oneDNN does not run). When the native
 * kernels are wrong and the AVX2 ones right, {@code ONEDNN_MAX_CPU_ISA=AVX2} is set for this process. The verdict is
 * cached per CPU model, CPU flags and libtorch version in the engine's cache folder, so only the first start on a
 * kind of host pays for it (about 2 s). {@code ONEDNN_MAX_CPU_ISA} set by the operator, or
 * {@code -Dglow.kernel-check=false}, skips it.
 *
 * <p>Over 300 lines because the measurement, the child JVM that runs it before the engine starts, and its cache are
 * one decision taken once per kind of host.
 */
public final class KernelCheck {

    private static final Logger LOG = LoggerFactory.getLogger(KernelCheck.class);
    public static final String MAX_ISA = "ONEDNN_MAX_CPU_ISA";
    /** The variables that cap each library's kernels (oneDNN, MKL, ATen); each is read once, when its library starts. */
    public static final List<String> CAP_VARIABLES = List.of(MAX_ISA, "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY");
    /** Those variables set to cap all three libraries at AVX2. */
    public static final java.util.Map<String, String> AVX2_CAPS = java.util.Map.of(MAX_ISA, "AVX2",
            "MKL_ENABLE_INSTRUCTIONS", "AVX2", "ATEN_CPU_CAPABILITY", "avx2");
    /** Printed by the child on its last line: the verdict the parent reads. */
    private static final String OK = "kernel-check: right";
    private static final String WRONG = "kernel-check: wrong";
    /** float32 sums of a few hundred products: errors beyond this are not rounding. */
    private static final double TOLERANCE = 1e-4;

    private static String verdict;

    interface CLibrary extends Library {
        int setenv(String name, String value, int overwrite);
    }

    private KernelCheck() {}

    /** What the check decided for this process, for logs, {@code /actuator/info} and the bench header. */
    public static synchronized String verdict() {
        return verdict == null ? "not checked" : verdict;
    }

    /**
     * Decides, before the engine starts, whether oneDNN may use this CPU's widest kernels; idempotent. Must run
     * before the first tensor operation of the process to have an effect.
     */
    public static synchronized String ensure() {
        if (verdict != null) {
            return verdict;
        }
        String preset = System.getenv(MAX_ISA);
        if (preset != null) {
            return verdict = "oneDNN kernels up to " + preset + " (" + MAX_ISA + " set by the environment)";
        }
        if ("false".equals(System.getProperty("glow.kernel-check"))) {
            return verdict = "oneDNN's native kernels, unchecked (glow.kernel-check=false)";
        }
        String file = "kernel-check-" + hostKey();
        List<Path> dirs = cacheDirs();
        Path cached = dirs.get(0).resolve(file);
        String decision = null;
        for (Path dir : dirs) {
            decision = read(dir.resolve(file));
            if (decision != null) {
                break;
            }
        }
        boolean fresh = decision == null;
        if (fresh) {
            long t0 = System.nanoTime();
            List<String> wrong = runChild(null);
            if (wrong.isEmpty()) {
                decision = "native";
            } else {
                List<String> wrongAvx2 = runChild("AVX2");
                decision = wrongAvx2.isEmpty() ? "AVX2" : "native";
                LOG.warn("oneDNN's native kernels compute wrong sums on this CPU ({}); {}", String.join("; ", wrong),
                        wrongAvx2.isEmpty() ? "using its AVX2 kernels, which compute right"
                                : "its AVX2 kernels are wrong too (" + String.join("; ", wrongAvx2) + "): no safer kernels found");
            }
            write(cached, decision);
            LOG.info("kernel check took {} ms; cached in {}", (System.nanoTime() - t0) / 1_000_000, cached);
        }
        if ("AVX2".equals(decision)) {
            try {
                Native.load("c", CLibrary.class).setenv(MAX_ISA, "AVX2", 1);
                capped = true;
                verdict = "oneDNN kernels up to AVX2: the native ones measured wrong on this CPU" + (fresh ? "" : " (cached)");
            } catch (LinkageError e) { // JNA could not load (a temporary folder mounted noexec, say): say so, loudly
                verdict = "oneDNN's native kernels, measured WRONG on this CPU, and not capped (" + e.getMessage()
                        + "): set " + MAX_ISA + "=AVX2 in the environment";
                LOG.error(verdict);
            }
        } else {
            verdict = "oneDNN's native kernels, measured right on this CPU" + (fresh ? "" : " (cached)");
        }
        return verdict;
    }

    /** The convolutions the models use, on channels-last data, each float32 result against float64: what is wrong. */
    static List<String> wrongConvolutions() {
        int[][] shapes = { // in, out, kernel
            {2, 36, 1}, {16, 72, 1}, {128, 36, 1}, {24, 24, 1}, {100, 100, 1}, {128, 128, 1}, {2, 128, 3}, {128, 8, 3}};
        List<String> wrong = new ArrayList<>();
        Random random = new Random(1);
        try (NDManager m = NDManager.newBaseManager()) {
            for (int[] s : shapes) {
                int in = s[0], out = s[1], k = s[2], batch = 20, size = 14;
                NDArray x = channelsLast(m.create(values(batch * in * size * size, random), new Shape(batch, in, size, size)));
                NDArray w = channelsLast(m.create(values(out * in * k * k, random), new Shape(out, in, k, k)).div(Math.sqrt(in * k * k)));
                Shape one = new Shape(1, 1), pad = new Shape(k / 2, k / 2);
                NDArray y = Conv2d.conv2d(x, w, null, one, pad, one, 1).singletonOrThrow().toType(DataType.FLOAT64, false);
                NDArray reference = Conv2d.conv2d(x.toType(DataType.FLOAT64, false), w.toType(DataType.FLOAT64, false), null,
                        one, pad, one, 1).singletonOrThrow();
                double error = y.sub(reference).abs().max().getDouble();
                double scale = Math.max(1, reference.abs().max().getDouble());
                if (!(error <= TOLERANCE * scale)) {
                    wrong.add(String.format("%dx%d conv %d->%d at batch %d: error %.3g", k, k, in, out, batch, error));
                }
            }
        }
        return wrong;
    }

    private static NDArray channelsLast(NDArray x) {
        Shape s = x.getShape();
        return x.transpose(0, 2, 3, 1).reshape(-1).reshape(s.get(0), s.get(2), s.get(3), s.get(1)).transpose(0, 3, 1, 2);
    }

    private static float[] values(int n, Random random) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return v;
    }

    /** The child's side: measures, prints the verdict, exits 0. */
    public static void main(String[] args) {
        System.setProperty("ai.djl.offline", "true");
        List<String> wrong = wrongConvolutions();
        System.out.println(wrong.isEmpty() ? OK : WRONG + " " + String.join("; ", wrong));
        System.exit(0);
    }

    /**
     * A child JVM's command line running {@code command} of the executable jar, or {@code mainClass} from this
     * class path (tests), with {@code options}.
     */
    public static List<String> childCommand(List<String> options, String command, String mainClass) {
        String javaCommand = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("java.class.path");
        List<String> line = new ArrayList<>(List.of(javaCommand, "-Dai.djl.offline=true"));
        line.addAll(options);
        boolean executableJar = classPath.endsWith(".jar") && !classPath.contains(java.io.File.pathSeparator);
        if (executableJar) { // the Spring Boot jar: its nested jars are on no class path a plain -cp could give
            line.addAll(List.of("-jar", classPath, command));
        } else {
            line.addAll(List.of("-cp", classPath, mainClass));
        }
        return line;
    }

    /**
     * The kernel caps this process set for itself, for a child JVM to run the same kernels: Java's view of the
     * environment is the one it started with, without what {@link #ensure} set.
     */
    static synchronized java.util.Map<String, String> dispatchEnvironment() {
        return capped ? java.util.Map.of(MAX_ISA, "AVX2") : java.util.Map.of();
    }

    private static boolean capped;

    /** Runs the measurement in a child JVM (oneDNN's kernels are chosen once per process), capped at {@code isa}. */
    private static List<String> runChild(String isa) {
        List<String> command = childCommand(List.of("-Xmx512m"), "kernel-check", KernelCheck.class.getName());
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        if (isa != null) {
            builder.environment().put(MAX_ISA, isa);
        }
        try {
            Process child = builder.start();
            String output;
            try (InputStream in = child.getInputStream()) {
                output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!child.waitFor(120, TimeUnit.SECONDS)) {
                child.destroyForcibly();
            }
            for (String line : output.lines().toList()) {
                if (line.startsWith(OK)) {
                    return List.of();
                }
                if (line.startsWith(WRONG)) {
                    return List.of(line.substring(WRONG.length()).strip());
                }
            }
            LOG.warn("kernel check could not run ({}); keeping oneDNN's native kernels", output.lines().reduce((a, b) -> b).orElse("no output"));
        } catch (IOException e) {
            LOG.warn("kernel check could not run ({}); keeping oneDNN's native kernels", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return List.of();
    }

    /**
     * Where verdicts are kept, the first that can be written to first: {@code -Dglow.kernel-check.dir}, the engine's
     * cache folder ({@code DJL_CACHE_DIR}, else {@code ~/.djl.ai}), else the temporary folder; and, read only, the
     * folder of prepared natives ({@code ENGINE_CACHE_DIR}), where an image keeps the verdict its build measured.
     */
    static List<Path> cacheDirs() {
        List<Path> dirs = new ArrayList<>();
        String set = System.getProperty("glow.kernel-check.dir");
        if (set != null) {
            dirs.add(Path.of(set));
        }
        String djl = System.getenv("DJL_CACHE_DIR");
        Path base = djl != null ? Path.of(djl) : Path.of(System.getProperty("user.home"), ".djl.ai");
        dirs.add((Files.isWritable(base) || Files.isWritable(base.getParent() == null ? base : base.getParent()) ? base
                : Path.of(System.getProperty("java.io.tmpdir"))).resolve("glow-serve"));
        String engine = System.getenv("ENGINE_CACHE_DIR");
        if (engine != null) {
            dirs.add(Path.of(engine).resolve("glow-serve"));
        }
        return dirs;
    }

    /** CPU model, CPU flags and libtorch version, hashed: a verdict holds for exactly these. */
    static String hostKey() {
        StringBuilder key = new StringBuilder();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") || line.startsWith("flags") || line.startsWith("cpu family")
                        || line.startsWith("model\t")) {
                    key.append(line).append('\n');
                    if (line.startsWith("flags")) {
                        break; // the first processor's lines describe them all
                    }
                }
            }
        } catch (IOException e) {
            key.append(System.getProperty("os.arch"));
        }
        Properties torch = new Properties();
        try (InputStream in = KernelCheck.class.getClassLoader().getResourceAsStream("native/lib/pytorch.properties")) {
            if (in != null) {
                torch.load(in);
            }
        } catch (IOException e) {
            // no version: the key still tells CPUs apart
        }
        key.append(torch.getProperty("version", "?"));
        return shortDigest(key.toString());
    }

    /** The first 8 bytes of {@code text}'s SHA-256 in hex: a cache file's key. */
    static String shortDigest(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String read(Path file) {
        try {
            String s = Files.readString(file).strip();
            return s.equals("native") || s.equals("AVX2") ? s : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void write(Path file, String decision) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, decision + "\n");
        } catch (IOException e) {
            LOG.info("kernel check verdict not cached ({}): the next start measures again", e.getMessage());
        }
    }
}
