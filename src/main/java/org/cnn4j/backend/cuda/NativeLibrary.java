package org.cnn4j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A native library found and opened for {@code java.lang.foreign}: first a file named by a system
 * property or an environment variable, then the dynamic loader's own search by soname (ld.so
 * cache, LD_LIBRARY_PATH), then the usual CUDA install folders. When nothing loads, the exception
 * lists every place tried and why it failed.
 */
final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    private final String what;
    private final SymbolLookup lookup;
    private final Path file;

    private NativeLibrary(String what, SymbolLookup lookup, Path file) {
        this.what = what;
        this.lookup = lookup;
        this.file = file;
    }

    /** Where the CUDA toolkits and cuDNN usually live on Linux. */
    static List<Path> usualFolders() {
        Set<Path> dirs = new LinkedHashSet<>(List.of(Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/usr/local/cuda/lib64"),
                Path.of("/usr/local/cuda/targets/x86_64-linux/lib"), Path.of("/usr/lib64"), Path.of("/usr/local/lib")));
        try (Stream<Path> cudas = Files.list(Path.of("/usr/local"))) {
            cudas.filter(p -> p.getFileName().toString().startsWith("cuda-")).sorted((a, b) -> b.compareTo(a)).forEach(p -> {
                dirs.add(p.resolve("targets/x86_64-linux/lib"));
                dirs.add(p.resolve("lib64"));
            });
        } catch (Exception e) {
            // no /usr/local to list: the fixed folders remain
        }
        return new ArrayList<>(dirs);
    }

    /**
     * Opens the first of {@code sonames} that loads.
     *
     * @param property system property naming a file (e.g. cnn4j.cudnn)
     * @param env      environment variable naming a file (e.g. CNN4J_CUDNN)
     */
    static NativeLibrary open(String what, String property, String env, List<String> sonames) {
        List<String> tried = new ArrayList<>();
        for (String explicit : new String[] {System.getProperty(property), System.getenv(env)}) {
            if (explicit == null || explicit.isBlank()) continue;
            NativeLibrary lib = tryPath(what, Path.of(explicit), tried);
            if (lib != null) return lib;
        }
        for (String soname : sonames) {
            try {
                return new NativeLibrary(what, SymbolLookup.libraryLookup(soname, Arena.global()), Path.of(soname));
            } catch (IllegalArgumentException e) {
                tried.add(soname + " (loader search: " + e.getMessage() + ")");
            }
        }
        for (Path dir : usualFolders()) {
            for (String soname : sonames) {
                Path f = dir.resolve(soname);
                if (Files.exists(f)) {
                    NativeLibrary lib = tryPath(what, f, tried);
                    if (lib != null) return lib;
                }
            }
        }
        throw new CudaException(what + " not found: tried " + String.join("; ", tried) + "; and " + sonames + " in "
                + usualFolders() + ". Set -D" + property + "=/path/to/lib or " + env + ".");
    }

    private static NativeLibrary tryPath(String what, Path f, List<String> tried) {
        try {
            return new NativeLibrary(what, SymbolLookup.libraryLookup(f, Arena.global()), f);
        } catch (IllegalArgumentException e) {
            tried.add(f + " (" + e.getMessage() + ")");
            return null;
        }
    }

    Path file() {
        return file;
    }

    /** Calls a C function that returns a status code (int). */
    static int call(MethodHandle function, Object... args) {
        try {
            return (int) function.invokeWithArguments(args);
        } catch (Throwable t) {
            throw new CudaException("native call failed: " + t, t);
        }
    }

    /**
     * Throws, for a non-zero status, a CudaException naming the call, what it worked on and the
     * library's own text for the status ({@code errorString}: const char *(int status)).
     */
    static void check(int status, MethodHandle errorString, String call, String detail) {
        if (status == 0) return;
        String text;
        try {
            text = ((MemorySegment) errorString.invoke(status)).reinterpret(256).getString(0);
        } catch (Throwable t) {
            text = "status " + status;
        }
        throw new CudaException(call + (detail.isEmpty() ? "" : " (" + detail + ")") + " failed: " + text + " (" + status + ")");
    }

    /** A method handle for a C function of this library. */
    MethodHandle function(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = lookup.find(name).orElseThrow(() -> new CudaException(what + " (" + file + ") has no function " + name
                + "; is it a supported version?"));
        return LINKER.downcallHandle(symbol, descriptor);
    }
}
