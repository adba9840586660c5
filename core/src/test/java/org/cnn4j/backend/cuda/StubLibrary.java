package org.cnn4j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/** Builds a stub library from a C file among this package's test resources, with the gcc on PATH. */
final class StubLibrary {
    private StubLibrary() {
    }

    /** Compiles resource {@code source} into {@code dir}/{@code name}; null where there is no gcc. */
    static Path build(Path dir, String source, String name) throws IOException, InterruptedException {
        Path gcc = Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":")).filter(d -> !d.isEmpty())
                .map(d -> Path.of(d, "gcc")).filter(Files::isExecutable).findFirst().orElse(null);
        if (gcc == null) return null;
        Path c = dir.resolve(source);
        try (InputStream in = StubLibrary.class.getResourceAsStream(source)) {
            Files.copy(in, c);
        }
        Path library = dir.resolve(name);
        Process p = new ProcessBuilder(gcc.toString(), "-shared", "-fPIC", "-Wall", "-Werror", "-o", library.toString(), c.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("gcc failed:\n" + output);
        return library;
    }
}
