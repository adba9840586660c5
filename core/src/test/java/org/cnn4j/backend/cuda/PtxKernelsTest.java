package org.cnn4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The PTX kernels as files: packaged, documented, written for PTX ISA 7.0 / sm_60 or lower, with
 * exactly the entry points {@link Kernels} lists, and accepted by ptxas for sm_90 where ptxas is
 * installed (CUDA toolkit; the development machines have it).
 */
class PtxKernelsTest {
    static Stream<String> files() {
        return Kernels.ENTRIES.keySet().stream().sorted();
    }

    @ParameterizedTest
    @MethodSource("files")
    void isDocumentedAndTargetsOldEnoughHardware(String file) {
        String ptx = Kernels.source(file);
        assertTrue(ptx.chars().allMatch(c -> c < 128), file + " is ASCII (ptxas refuses anything else)");
        assertTrue(ptx.startsWith("//\n// " + file + " -- "), file + " opens with a comment naming it and what it computes");
        assertTrue(ptx.contains("CPU oracle:"), file + " names its CPU oracle");
        assertTrue(ptx.contains("Launch:"), file + " states its launch geometry");
        Matcher version = Pattern.compile("(?m)^\\.version (\\d+)\\.(\\d+)$").matcher(ptx);
        assertTrue(version.find(), file + " has a .version");
        assertTrue(Integer.parseInt(version.group(1)) * 10 + Integer.parseInt(version.group(2)) <= 70, file + ": PTX ISA 7.0 or lower");
        Matcher target = Pattern.compile("(?m)^\\.target sm_(\\d+)$").matcher(ptx);
        assertTrue(target.find() && Integer.parseInt(target.group(1)) <= 60, file + ": target sm_60 or lower");
        Set<String> entries = new TreeSet<>();
        Matcher entry = Pattern.compile("\\.visible \\.entry (\\w+)\\(").matcher(ptx);
        while (entry.find()) entries.add(entry.group(1));
        assertEquals(new TreeSet<>(Kernels.ENTRIES.get(file)), entries, file + ": its entry points");
        for (String name : entries) assertTrue(ptx.contains("// " + name + "("), file + " documents " + name + "'s arguments");
    }

    @Test
    void everyFileInNativeKernelsIsPackaged() throws IOException {
        Path dir = Path.of("..", "native-kernels");
        assumeTrue(Files.isDirectory(dir), "run from core/ (the bundle carries only the packaged kernels)");
        try (Stream<Path> files = Files.list(dir)) {
            Set<String> ptx = new TreeSet<>(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".ptx")).toList());
            assertEquals(new TreeSet<>(Kernels.ENTRIES.keySet()), ptx);
        }
    }

    static Path ptxas() {
        List<Path> candidates = new ArrayList<>();
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) if (!dir.isEmpty()) candidates.add(Path.of(dir, "ptxas"));
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null) candidates.add(Path.of(cudaHome, "bin", "ptxas"));
        candidates.add(Path.of("/usr/local/cuda/bin/ptxas"));
        return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    @ParameterizedTest
    @MethodSource("files")
    void assemblesForSm90(String file) throws Exception {
        Path ptxas = ptxas();
        assumeTrue(ptxas != null, "ptxas is not installed (PATH, CUDA_HOME, /usr/local/cuda/bin): cannot assemble " + file);
        Path dir = Files.createTempDirectory("ptxas");
        Path source = dir.resolve(file), cubin = dir.resolve(file + ".cubin");
        Files.writeString(source, Kernels.source(file));
        Process p = new ProcessBuilder(ptxas.toString(), "-arch=sm_90", "-v", source.toString(), "-o", cubin.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "ptxas finished");
        assertEquals(0, p.exitValue(), "ptxas -arch=sm_90 " + file + ":\n" + output);
        assertTrue(!output.contains("warning"), "no warnings:\n" + output);
        assertTrue(Files.size(cubin) > 0);
    }
}
