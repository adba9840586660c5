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
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;

/**
 * A native library found and opened for {@code java.lang.foreign}: first a file named by a system
 * property or an environment variable, then the dynamic loader's own search by soname (ld.so
 * cache, LD_LIBRARY_PATH), then the usual CUDA install folders, then NVIDIA's Python wheels
 * ({@code …/site-packages/nvidia/<package>/lib}, as PyTorch installs cuDNN and cuBLAS; CUDA 13's
 * wheels share {@code nvidia/cu13/lib}) in every
 * Python environment in sight: each {@code python3} on PATH, {@code VIRTUAL_ENV},
 * {@code CONDA_PREFIX}, {@code /opt/*}{@code /.venv}, {@code /usr/local} and the user's {@code ~/.local}. When
 * nothing loads, the exception lists every place tried and why it failed.
 *
 * <p>A library found in a folder may need companions there that it loads itself at run time
 * (cuDNN 9's sub-libraries): those are checked for and loaded from the same folder first, so that
 * the library's own lookup by soname finds them already loaded.
 */
final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    /** Every C function asked for so far, by name, with the descriptor it is called through. */
    private static final Map<String, FunctionDescriptor> DECLARED = new ConcurrentSkipListMap<>();
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

    /** The Python environments' wheel folders ({@code nvidia/<package>/lib}) under the process's environment. */
    static List<Path> wheelFolders() {
        return wheelFolders(System.getenv(), Path.of(System.getProperty("user.home", "/root")));
    }

    /**
     * Every {@code site-packages/nvidia/<package>/lib} (and {@code dist-packages}) folder of the
     * Python environments that {@code env} points at: the prefix of each {@code python3} on PATH
     * (the folder above its bin, as given and with links resolved), VIRTUAL_ENV, CONDA_PREFIX,
     * each {@code /opt/<name>/.venv}, {@code /usr/local} and {@code home/.local}.
     */
    static List<Path> wheelFolders(Map<String, String> env, Path home) {
        Set<Path> prefixes = new LinkedHashSet<>();
        for (String dir : env.getOrDefault("PATH", "").split(":")) {
            if (dir.isEmpty()) continue;
            Path python = Path.of(dir, "python3");
            if (!Files.isExecutable(python)) continue;
            prefixes.add(python.getParent().getParent());
            try {
                prefixes.add(python.toRealPath().getParent().getParent());
            } catch (Exception e) {
                // a dangling link: the prefix as given remains
            }
        }
        for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String v = env.get(var);
            if (v != null && !v.isBlank()) prefixes.add(Path.of(v));
        }
        try (Stream<Path> opts = Files.list(Path.of("/opt"))) {
            opts.map(p -> p.resolve(".venv")).filter(Files::isDirectory).sorted().forEach(prefixes::add);
        } catch (Exception e) {
            // no /opt to list
        }
        prefixes.add(Path.of("/usr/local")); // pip install as root on Debian and Ubuntu
        prefixes.add(home.resolve(".local"));
        Set<Path> folders = new LinkedHashSet<>();
        for (Path prefix : prefixes) {
            if (prefix == null) continue;
            for (String lib : List.of("lib", "lib64")) {
                try (Stream<Path> pythons = Files.list(prefix.resolve(lib))) {
                    pythons.filter(p -> p.getFileName().toString().startsWith("python3")).sorted().forEach(py -> {
                        for (String packages : List.of("site-packages", "dist-packages")) {
                            try (Stream<Path> nvidia = Files.list(py.resolve(packages).resolve("nvidia"))) {
                                nvidia.map(p -> p.resolve("lib")).filter(Files::isDirectory).sorted().forEach(folders::add);
                            } catch (Exception e) {
                                // no NVIDIA wheels in this environment
                            }
                        }
                    });
                } catch (Exception e) {
                    // no such lib folder
                }
            }
        }
        return new ArrayList<>(folders);
    }

    /**
     * Opens the first of {@code sonames} that loads.
     *
     * @param property system property naming a file (e.g. cnn4j.cudnn)
     * @param env      environment variable naming a file (e.g. CNN4J_CUDNN)
     */
    static NativeLibrary open(String what, String property, String env, List<String> sonames) {
        return open(what, property, env, sonames, Map.of(), wheelFolders());
    }

    /**
     * Opens the first of {@code sonames} that loads, looking in the wheel folders given after the
     * usual places. A library found in a folder (not by the loader's own search) whose soname has
     * {@code companions} must have them beside it: they are loaded from there, in order, first.
     */
    static NativeLibrary open(String what, String property, String env, List<String> sonames, Map<String, List<String>> companions,
                              List<Path> wheels) {
        List<String> tried = new ArrayList<>();
        for (String explicit : new String[] {System.getProperty(property), System.getenv(env)}) {
            if (explicit == null || explicit.isBlank()) continue;
            NativeLibrary lib = tryPath(what, Path.of(explicit), companions, tried);
            if (lib != null) return lib;
        }
        for (String soname : sonames) {
            try {
                return new NativeLibrary(what, SymbolLookup.libraryLookup(soname, Arena.global()), Path.of(soname));
            } catch (IllegalArgumentException e) {
                tried.add(soname + " (loader search: " + e.getMessage() + ")");
            }
        }
        List<Path> folders = new ArrayList<>(usualFolders());
        folders.addAll(wheels);
        for (Path dir : folders) {
            for (String soname : sonames) {
                Path f = dir.resolve(soname);
                if (Files.exists(f)) {
                    NativeLibrary lib = tryPath(what, f, companions, tried);
                    if (lib != null) return lib;
                }
            }
        }
        throw new CudaException(what + " not found: tried " + String.join("; ", tried) + "; and " + sonames + " in " + usualFolders()
                + (wheels.isEmpty() ? " (no Python environment with NVIDIA's wheels found)" : " and the Python wheels' " + wheels) + ". Set -D"
                + property + "=/path/to/lib or " + env + ".");
    }

    /** Loads {@code f}, after the companions its file name calls for (from its folder); null, with the reason noted, if any fails. */
    private static NativeLibrary tryPath(String what, Path f, Map<String, List<String>> companions, List<String> tried) {
        List<String> needed = companions.getOrDefault(f.getFileName().toString(), List.of());
        List<String> missing = needed.stream().filter(c -> !Files.exists(f.resolveSibling(c))).toList();
        if (!missing.isEmpty()) {
            tried.add(f + " (its companions " + missing + " are not beside it)");
            return null;
        }
        for (String c : needed) {
            try {
                SymbolLookup.libraryLookup(f.resolveSibling(c), Arena.global());
            } catch (IllegalArgumentException e) {
                tried.add(f + " (its companion " + c + " does not load: " + e.getMessage() + ")");
                return null;
            }
        }
        return tryPath(what, f, tried);
    }

    private static NativeLibrary tryPath(String what, Path f, List<String> tried) {
        try {
            return new NativeLibrary(what, SymbolLookup.libraryLookup(f, Arena.global()), f);
        } catch (IllegalArgumentException e) {
            tried.add(f + " (" + e.getMessage() + ")");
            return null;
        }
    }

    /**
     * The file loaded: the path it was opened by or, for one the loader found by soname, the path
     * the process has mapped (from /proc/self/maps), or the soname where that cannot be read.
     */
    Path file() {
        return file.isAbsolute() ? file : mapped(file.getFileName().toString()).orElse(file);
    }

    /** The first file mapped into this process whose name starts with {@code name} (Linux's /proc/self/maps). */
    static Optional<Path> mapped(String name) {
        try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            return maps.map(l -> l.indexOf('/') < 0 ? "" : l.substring(l.indexOf('/')).strip())
                    .filter(f -> !f.isEmpty() && Path.of(f).getFileName().toString().startsWith(name)).findFirst().map(Path::of);
        } catch (Exception e) {
            return Optional.empty();
        }
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
        throw new CudaException(call + (detail.isEmpty() ? "" : " (" + detail + ")") + " failed: " + statusText(errorString, status) + " (" + status + ")");
    }

    /** The library's own text for a status ({@code errorString}: const char *(int status)), or "status N" where it gives none. */
    static String statusText(MethodHandle errorString, int status) {
        try {
            return ((MemorySegment) errorString.invoke(status)).reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "status " + status;
        }
    }

    /**
     * Every C function that a binding has asked any library for in this process, by name, with the
     * descriptor it is called through (found or not): what a check against the headers compares.
     */
    static Map<String, FunctionDescriptor> declared() {
        return Map.copyOf(DECLARED);
    }

    /** A method handle for a C function that only some versions of this library have, or null where this one has none. */
    MethodHandle optionalFunction(String name, FunctionDescriptor descriptor) {
        DECLARED.put(name, descriptor);
        return lookup.find(name).map(symbol -> LINKER.downcallHandle(symbol, descriptor)).orElse(null);
    }

    /** A method handle for a C function of this library. */
    MethodHandle function(String name, FunctionDescriptor descriptor) {
        DECLARED.put(name, descriptor);
        MemorySegment symbol = lookup.find(name).orElseThrow(() -> new CudaException(what + " (" + file + ") has no function " + name
                + "; is it a supported version?"));
        return LINKER.downcallHandle(symbol, descriptor);
    }
}
