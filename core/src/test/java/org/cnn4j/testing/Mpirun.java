package org.cnn4j.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The MPI launchers for the tests that start several processes (CI installs openmpi-bin, mpich and a one-node Slurm). */
public final class Mpirun {
    private Mpirun() {
    }

    /**
     * The first mpirun on PATH, or null. The first: Open MPI takes its prefix from the path it was
     * started by, and /bin/mpirun (a link to /usr/bin on merged systems) gives "/" and fails.
     */
    public static Path find() {
        Path openMpi = onPath("mpirun.openmpi"); // Debian's own name for it, whichever MPI the plain name points at
        return openMpi != null ? openMpi : onPath("mpirun");
    }

    /** MPICH's launcher (Debian's mpich package: mpiexec.mpich), or null. */
    public static Path findMpich() {
        return onPath("mpiexec.mpich");
    }

    /**
     * Slurm's srun where a Slurm cluster answers with a node ready for jobs (scripts/slurm-local
     * starts one on this machine), or null.
     */
    public static Path findSrun() throws IOException, InterruptedException {
        Path srun = onPath("srun"), sinfo = onPath("sinfo");
        if (srun == null || sinfo == null) return null;
        Process p = new ProcessBuilder(sinfo.toString(), "-h", "-o", "%t").redirectErrorStream(true).start();
        String states = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return null;
        }
        return p.exitValue() == 0 && states.lines().anyMatch(l -> l.strip().matches("idle|mix|alloc")) ? srun : null;
    }

    private static Path onPath(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) return Path.of(dir, name);
        }
        return null;
    }

    /**
     * Runs {@code main} of {@code mainClass} (with this JVM's class path) in {@code processes}
     * processes under mpirun (Open MPI's as root, oversubscribed; MPICH's mpiexec; or Slurm's srun
     * with PMIx), waits at most {@code seconds}, asserts that
     * all ended well, and returns what they printed.
     */
    public static String java(Path mpirun, int processes, String mainClass, int seconds, String... args) throws IOException, InterruptedException {
        Outcome o = run(mpirun, processes, mainClass, seconds, args);
        assertEquals(0, o.code(), o.output());
        return o.output();
    }

    /** How a job ended: mpirun's exit status, what the processes printed, and how long it took. */
    public record Outcome(int code, String output, double seconds) {
    }

    /** The system properties that choose the CPU kernels. */
    private static final List<String> KERNEL_PROPERTIES = List.of("cnn4j.vector", "cnn4j.direct", "cnn4j.filterByTaps");

    /**
     * The options of this test JVM that choose kernels ({@code -XX:MaxVectorSize}, {@code -XX:UseAVX},
     * {@code -Dcnn4j.*}, e.g. {@code -Dcnn4j.vector=false}), for the processes it starts: a test that
     * compares their results with its own compares the same kernels. The kernel properties count
     * whether they came on this JVM's command line or as the system properties Surefire sets in it
     * from Maven's {@code -D} (which no command line shows).
     */
    public static List<String> inheritedOptions() {
        List<String> options = new ArrayList<>(java.util.Arrays.stream(ProcessHandle.current().info().arguments().orElse(new String[0]))
                .filter(a -> a.startsWith("-XX:MaxVectorSize") || a.startsWith("-XX:UseAVX") || a.startsWith("-Dcnn4j.")).toList());
        for (String key : KERNEL_PROPERTIES) {
            String value = System.getProperty(key);
            if (value != null && options.stream().noneMatch(o -> o.startsWith("-D" + key + "="))) options.add("-D" + key + "=" + value);
        }
        return options;
    }

    /** {@link #java} without asserting how the job ended. */
    public static Outcome run(Path mpirun, int processes, String mainClass, int seconds, String... args) throws IOException, InterruptedException {
        long start = System.nanoTime();
        Path log = Files.createTempFile("mpirun", ".log");
        try {
            String launcher = mpirun.getFileName().toString();
            List<String> command = new ArrayList<>(launcher.equals("srun") ? List.of(mpirun.toString(), "--mpi=pmix", "--overcommit", "-n",
                    Integer.toString(processes)) // Slurm's direct launch, Open MPI through PMIx
                    : launcher.contains("mpich") ? List.of(mpirun.toString(), "-n", Integer.toString(processes)) // runs as root, oversubscribes
                    : List.of(mpirun.toString(), "--allow-run-as-root", "--oversubscribe", "-np", Integer.toString(processes)));
            command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                    "--add-modules", "jdk.incubator.vector"));
            command.addAll(inheritedOptions());
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
            command.addAll(List.of(args));
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("mpirun ran past " + seconds + " s: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Outcome(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8), (System.nanoTime() - start) * 1e-9);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
