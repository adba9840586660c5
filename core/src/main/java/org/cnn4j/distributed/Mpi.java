package org.cnn4j.distributed;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The processes of an MPI job ({@code mpirun -np N …}, or {@code srun} under Slurm) through the MPI
 * library itself, called with {@code java.lang.foreign}. Two ABIs: Open MPI's ({@code libmpi.so.40},
 * Debian's {@code openmpi-bin}), whose handles ({@code MPI_COMM_WORLD}, {@code MPI_FLOAT},
 * {@code MPI_SUM}, …) are the addresses of the library's predefined objects ({@code
 * &ompi_mpi_comm_world}, …) and whose {@code MPI_IN_PLACE} is {@code (void *) 1}; and MPICH's
 * ({@code libmpich.so.12}, and the libraries built on its ABI: Intel MPI, Cray MPICH, MVAPICH),
 * whose handles are ints fixed by its mpi.h ({@code MPI_COMM_WORLD} 0x44000000, {@code MPI_FLOAT}
 * 0x4c00040a, {@code MPI_DOUBLE} 0x4c00080b, {@code MPI_BYTE} 0x4c00010d, {@code MPI_SUM}
 * 0x58000003, {@code MPI_ERRORS_RETURN} 0x54000001) and whose {@code MPI_IN_PLACE} is
 * {@code (void *) -1}. Which library: the file or name {@code -Dcnn4j.mpi} or {@code CNN4J_MPI}
 * gives, else the launcher's (Open MPI's when {@code mpirun} set {@code OMPI_COMM_WORLD_SIZE},
 * MPICH's first when a PMI launcher such as MPICH's {@code mpiexec} set {@code PMI_RANK}); the ABI
 * is the one the library's {@code MPI_Get_library_version} names (Open MPI has {@code
 * ompi_mpi_comm_world}; MPICH and its kin say so), anything else is refused by name.
 *
 * <p>The C functions (both mpi.h files; {@code MPI_Comm}, {@code MPI_Datatype}, {@code MPI_Op},
 * {@code MPI_Errhandler} a pointer or an int as the ABI says): {@code int MPI_Initialized(int
 * *flag)}; {@code int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)};
 * {@code int MPI_Comm_set_errhandler(MPI_Comm, MPI_Errhandler)}; {@code int MPI_Comm_rank(MPI_Comm,
 * int *)}; {@code int MPI_Comm_size(MPI_Comm, int *)}; {@code int MPI_Allreduce(const void *sendbuf,
 * void *recvbuf, int count, MPI_Datatype, MPI_Op, MPI_Comm)}; {@code int MPI_Bcast(void *buffer, int
 * count, MPI_Datatype, int root, MPI_Comm)}; {@code int MPI_Barrier(MPI_Comm)}; {@code int
 * MPI_Error_string(int errorcode, char *string, int *resultlen)}; {@code int MPI_Finalize(void)};
 * {@code int MPI_Get_library_version(char *version, int *resultlen)}. Errors return
 * (MPI_ERRORS_RETURN on the world communicator) and are thrown with MPI's own text. MPI is
 * initialised with MPI_THREAD_SERIALIZED and every call here holds this object's lock, so any Java
 * thread may call.
 *
 * <p>Faults: the launcher (Open MPI's mpirun, MPICH's mpiexec) ends the job when one of its
 * processes dies. A process that hangs instead would keep the others waiting in their next
 * collective, so each collective has a deadline ({@code -Dcnn4j.mpi.timeout=SECONDS}, default
 * {@value #DEFAULT_TIMEOUT_SECONDS}, or {@link #start(Duration)}): past it, a watchdog logs which
 * rank waited in which call for how long and halts this process with exit status
 * {@value #TIMEOUT_EXIT}, and the launcher then ends the others. A checkpoint being written at that moment is lost, the previous one stays whole (they
 * are written to a temporary file and renamed).
 *
 * <p>The local rank comes from the launcher's environment: {@code OMPI_COMM_WORLD_LOCAL_RANK} (Open
 * MPI's mpirun), {@code SLURM_LOCALID} (srun), {@code MPI_LOCALRANKID} (Hydra); 0 when none is set.
 * Under Slurm, {@code srun --mpi=pmix} starts the processes; a job step of several tasks whose
 * processes each see a job of one (srun without PMIx) is refused with that reason.
 */
public final class Mpi implements Communicator {
    private static final Logger log = LoggerFactory.getLogger(Mpi.class);
    /** MPI_MAX_ERROR_STRING: the larger of Open MPI's (256) and MPICH's (512). */
    private static final int MPI_SUCCESS = 0, MPI_THREAD_SERIALIZED = 2, MPI_MAX_ERROR_STRING = 512;
    /** The larger of the libraries' MPI_MAX_LIBRARY_VERSION_STRING (MPICH's 8192; Open MPI's 256). */
    private static final int MAX_LIBRARY_VERSION = 8192;
    /** The most elements one MPI call takes (its count is an int). */
    private static final int CHUNK = 1 << 28;
    static final long DEFAULT_TIMEOUT_SECONDS = 600;
    /** The exit status of a process the watchdog stops. */
    public static final int TIMEOUT_EXIT = 75;

    private final Functions f;
    private final Abi abi;
    private final boolean initialisedHere;
    private final int rank, size, localRank;
    private final long timeoutNanos;
    /** When the collective under way must have returned (System.nanoTime), and its name; 0 and null between collectives. */
    private volatile long deadline;
    private volatile String waitingIn;
    private Thread watchdog;
    private boolean closed;

    /**
     * How a library names its predefined objects: the layout of a handle (a pointer or an int), the
     * handles this class uses (MemorySegment or Integer), and MPI_IN_PLACE.
     */
    record Abi(String name, ValueLayout handle, Object world, Object floatType, Object doubleType, Object byteType, Object sum,
               Object errorsReturn, MemorySegment inPlace) {
        static Abi openMpi(SymbolLookup lib) {
            return new Abi("Open MPI", ValueLayout.ADDRESS, find(lib, "ompi_mpi_comm_world"), find(lib, "ompi_mpi_float"), find(lib, "ompi_mpi_double"),
                    find(lib, "ompi_mpi_byte"), find(lib, "ompi_mpi_op_sum"), find(lib, "ompi_mpi_errors_return"), MemorySegment.ofAddress(1));
        }

        /** MPICH's handles, from its mpi.h: the same in every library of its ABI. */
        static Abi mpich() {
            return new Abi("MPICH", ValueLayout.JAVA_INT, 0x44000000, 0x4c00040a, 0x4c00080b, 0x4c00010d, 0x58000003, 0x54000001,
                    MemorySegment.ofAddress(-1L));
        }
    }

    private record Functions(MethodHandle initialized, MethodHandle initThread, MethodHandle setErrhandler, MethodHandle commRank,
                             MethodHandle commSize, MethodHandle allreduce, MethodHandle bcast, MethodHandle barrier, MethodHandle errorString,
                             MethodHandle finalizeMpi) {
    }

    private Mpi(SymbolLookup lib, Map<String, String> env, Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("the MPI timeout must be positive, got " + timeout);
        this.timeoutNanos = timeout.toNanos();
        this.abi = abi(lib);
        Linker linker = Linker.nativeLinker();
        ValueLayout p = ValueLayout.ADDRESS, i = ValueLayout.JAVA_INT, h = abi.handle();
        f = new Functions(
                linker.downcallHandle(find(lib, "MPI_Initialized"), FunctionDescriptor.of(i, p)),
                linker.downcallHandle(find(lib, "MPI_Init_thread"), FunctionDescriptor.of(i, p, p, i, p)),
                linker.downcallHandle(find(lib, "MPI_Comm_set_errhandler"), FunctionDescriptor.of(i, h, h)),
                linker.downcallHandle(find(lib, "MPI_Comm_rank"), FunctionDescriptor.of(i, h, p)),
                linker.downcallHandle(find(lib, "MPI_Comm_size"), FunctionDescriptor.of(i, h, p)),
                linker.downcallHandle(find(lib, "MPI_Allreduce"), FunctionDescriptor.of(i, p, p, i, h, h, h)),
                linker.downcallHandle(find(lib, "MPI_Bcast"), FunctionDescriptor.of(i, p, i, h, i, h)),
                linker.downcallHandle(find(lib, "MPI_Barrier"), FunctionDescriptor.of(i, h)),
                linker.downcallHandle(find(lib, "MPI_Error_string"), FunctionDescriptor.of(i, i, p, p)),
                linker.downcallHandle(find(lib, "MPI_Finalize"), FunctionDescriptor.of(i)));
        Object world = abi.world();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flag = arena.allocate(ValueLayout.JAVA_INT);
            check("MPI_Initialized", (int) f.initialized.invokeExact(flag));
            initialisedHere = flag.get(ValueLayout.JAVA_INT, 0) == 0;
            if (initialisedHere) {
                MemorySegment provided = arena.allocate(ValueLayout.JAVA_INT);
                check("MPI_Init_thread", (int) f.initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, MPI_THREAD_SERIALIZED, provided));
                if (provided.get(ValueLayout.JAVA_INT, 0) < MPI_THREAD_SERIALIZED) {
                    log.warn("the MPI library gives thread level {} where cnn4j asked for MPI_THREAD_SERIALIZED; calls stay on one thread at a time",
                            provided.get(ValueLayout.JAVA_INT, 0));
                }
            }
            check("MPI_Comm_set_errhandler", (int) f.setErrhandler.invoke(world, abi.errorsReturn()));
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("MPI_Comm_rank", (int) f.commRank.invoke(world, out));
            rank = out.get(ValueLayout.JAVA_INT, 0);
            check("MPI_Comm_size", (int) f.commSize.invoke(world, out));
            size = out.get(ValueLayout.JAVA_INT, 0);
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI could not start: " + t.getMessage(), t);
        }
        localRank = localRank(env);
        String mismatch = launcherMismatch(env, size);
        if (mismatch != null) throw new IllegalStateException(mismatch);
        log.debug("{} rank {} of {}, local rank {}", abi.name(), rank, size, localRank);
    }

    /**
     * Joins the MPI job this process belongs to (a job of one where it was not started by a
     * launcher), each collective's deadline from {@code -Dcnn4j.mpi.timeout} (seconds); see the class
     * comment.
     */
    public static Mpi start() {
        long seconds = Long.getLong("cnn4j.mpi.timeout", DEFAULT_TIMEOUT_SECONDS);
        if (seconds < 1) throw new IllegalArgumentException("cnn4j.mpi.timeout must be at least 1 second, got " + seconds);
        return start(Duration.ofSeconds(seconds));
    }

    /** {@link #start()} with each collective's deadline {@code timeout} after it begins. */
    public static Mpi start(Duration timeout) {
        return new Mpi(library(), System.getenv(), timeout);
    }

    /** Starts the deadline of collective {@code call} (and the watchdog, the first time). */
    private void begin(String call) {
        if (watchdog == null) {
            watchdog = Thread.ofPlatform().daemon().name("cnn4j-mpi-watchdog").start(this::watch);
        }
        waitingIn = call;
        deadline = System.nanoTime() + timeoutNanos;
    }

    private void end() {
        deadline = 0;
        waitingIn = null;
    }

    /** The watchdog: halts the process when a collective outlives its deadline (see the class comment). */
    private void watch() {
        long tick = Math.max(1_000_000L, Math.min(timeoutNanos / 10, 1_000_000_000L));
        while (true) {
            try {
                Thread.sleep(Duration.ofNanos(tick));
            } catch (InterruptedException e) {
                return;
            }
            long due = deadline;
            String call = waitingIn;
            if (due != 0 && System.nanoTime() - due > 0) {
                log.error("rank {} of {}: {} has waited {} s for the other processes (one may have died or hung); stopping this process "
                        + "(exit status {}) so that the launcher ends the job", rank, size, call, timeoutNanos / 1_000_000_000L, TIMEOUT_EXIT);
                Runtime.getRuntime().halt(TIMEOUT_EXIT);
            }
        }
    }

    /** Each collective's deadline (see the class comment). */
    @Override
    public java.util.Optional<Duration> deadline() {
        return java.util.Optional.of(Duration.ofNanos(timeoutNanos));
    }

    /** Whether an MPI launcher (mpirun, srun) started this process. */
    public static boolean launched() {
        return launched(System.getenv());
    }

    /** Whether {@code env} is that of a process an MPI launcher or a Slurm job step of several tasks started. */
    static boolean launched(Map<String, String> env) {
        return env.containsKey("OMPI_COMM_WORLD_SIZE") || env.containsKey("PMI_SIZE") || env.containsKey("PMIX_RANK")
                || tasks(env, "SLURM_STEP_NUM_TASKS") > 1;
    }

    /**
     * Why a job of {@code size} cannot be the one the launcher started, or null: srun started
     * several tasks but MPI sees each alone (srun without the PMIx plugin Open MPI needs), which
     * would train that many unconnected models.
     */
    static String launcherMismatch(Map<String, String> env, int size) {
        int tasks = tasks(env, "SLURM_STEP_NUM_TASKS");
        if (tasks > 1 && size == 1 && !env.containsKey("OMPI_COMM_WORLD_SIZE")) {
            return "srun started " + tasks + " tasks but MPI sees a job of 1 process in each: launch with srun --mpi=pmix (Open MPI needs "
                    + "Slurm's PMIx plugin; srun --mpi=list shows those installed), or with mpirun inside the allocation";
        }
        return null;
    }

    private static int tasks(Map<String, String> env, String key) {
        try {
            return Integer.parseInt(env.getOrDefault(key, "0").trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    static int localRank(Map<String, String> env) {
        for (String key : List.of("OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID")) {
            String v = env.get(key);
            if (v == null) continue;
            try {
                int r = Integer.parseInt(v.trim());
                if (r >= 0) return r;
            } catch (NumberFormatException e) {
                // not a number: look further
            }
            log.warn("ignoring {}={}: not a local rank", key, v);
        }
        return 0;
    }

    /** The libraries to try, in order, for a process started with {@code env} (see the class comment). */
    static List<String> candidates(Map<String, String> env) {
        String named = System.getProperty("cnn4j.mpi", env.get("CNN4J_MPI"));
        if (named != null && !named.isBlank()) return List.of(named);
        List<String> openMpi = List.of("libmpi.so.40"), mpich = List.of("libmpich.so.12", "libmpi.so.12");
        boolean pmi = env.containsKey("PMI_RANK") && !env.containsKey("OMPI_COMM_WORLD_SIZE") && !env.containsKey("PMIX_RANK");
        List<String> all = new ArrayList<>(pmi ? mpich : openMpi);
        all.addAll(pmi ? openMpi : mpich);
        all.add("libmpi.so");
        return all;
    }

    /**
     * Keeps UCX (the transport MPICH, and some Open MPI builds, load) from taking the signals the
     * JVM relies on: its SIGSEGV handler would catch the JVM's own implicit null checks and abort
     * the process. Sets {@code UCX_ERROR_SIGNALS} to empty, unless the user set it, before the MPI
     * library (and so UCX) loads, through libc's {@code int setenv(const char *name, const char
     * *value, int overwrite)}.
     */
    private static void keepSignalsFromUcx() {
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            int ignored = (int) setenv.invokeExact(arena.allocateFrom("UCX_ERROR_SIGNALS"), arena.allocateFrom(""), 0);
        } catch (Throwable t) {
            log.warn("could not set UCX_ERROR_SIGNALS (set it to an empty value if MPI aborts on the JVM's signals): {}", t.toString());
        }
    }

    private static SymbolLookup library() {
        keepSignalsFromUcx();
        List<String> tried = new ArrayList<>();
        for (String name : candidates(System.getenv())) {
            try {
                return name.contains("/") ? SymbolLookup.libraryLookup(Path.of(name), Arena.global()) : SymbolLookup.libraryLookup(name, Arena.global());
            } catch (IllegalArgumentException e) {
                tried.add(name);
            }
        }
        throw new IllegalStateException("no MPI library found (tried " + String.join(", ", tried)
                + "): install Open MPI (apt-get install openmpi-bin) or MPICH, add its lib directory to LD_LIBRARY_PATH, or name the file with "
                + "-Dcnn4j.mpi=/path/to/libmpi.so");
    }

    /**
     * The library's ABI: Open MPI's where it has {@code ompi_mpi_comm_world}; MPICH's where its
     * {@code MPI_Get_library_version} (which may be called before MPI starts) names MPICH or a
     * library built on it; otherwise refused.
     */
    static Abi abi(SymbolLookup lib) {
        if (lib.find("ompi_mpi_comm_world").isPresent()) return Abi.openMpi(lib);
        String version = libraryVersion(lib);
        if (mpichAbi(version)) return Abi.mpich();
        throw new IllegalStateException("the MPI library (" + version.lines().findFirst().orElse("no version") + ") is neither Open MPI nor of "
                + "MPICH's ABI (MPICH, Intel MPI, Cray MPICH, MVAPICH): cnn4j knows the handles of those two only");
    }

    /** Whether a library's version text names MPICH or one of the libraries that keep its ABI. */
    static boolean mpichAbi(String version) {
        String v = version.toUpperCase(java.util.Locale.ROOT);
        return v.contains("MPICH") || v.contains("INTEL(R) MPI") || v.contains("MVAPICH");
    }

    private static String libraryVersion(SymbolLookup lib) {
        var symbol = lib.find("MPI_Get_library_version");
        if (symbol.isEmpty()) return "no MPI_Get_library_version";
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment text = arena.allocate(MAX_LIBRARY_VERSION + 1), length = arena.allocate(ValueLayout.JAVA_INT);
            MethodHandle version = Linker.nativeLinker().downcallHandle(symbol.get(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            int code = (int) version.invokeExact(text, length);
            return code == MPI_SUCCESS ? text.getString(0) : "MPI_Get_library_version failed (" + code + ")";
        } catch (Throwable t) {
            return "MPI_Get_library_version failed: " + t.getMessage();
        }
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("the MPI library lacks " + name));
    }

    /** MPI's error text for a failed call. */
    public static final class MpiException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        MpiException(String message) {
            super(message);
        }
    }

    private void check(String call, int code) throws Throwable {
        if (code == MPI_SUCCESS) return;
        String text = "error " + code;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(MPI_MAX_ERROR_STRING + 1), length = arena.allocate(ValueLayout.JAVA_INT);
            if ((int) f.errorString.invokeExact(code, s, length) == MPI_SUCCESS) text = s.getString(0);
        }
        throw new MpiException(call + " failed: " + text);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int localRank() {
        return localRank;
    }

    @Override
    public synchronized void allReduceSum(float[] values) {
        allReduceSum(MemorySegment.ofArray(values), Float.BYTES, abi.floatType());
    }

    @Override
    public synchronized void allReduceSum(double[] values) {
        allReduceSum(MemorySegment.ofArray(values), Double.BYTES, abi.doubleType());
    }

    /** A Java array's values (a heap segment of {@code bytes}-byte elements of MPI type {@code type}) summed in place, through native memory. */
    private void allReduceSum(MemorySegment values, int bytes, Object type) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(values.byteSize(), bytes).copyFrom(values);
            allReduce(buffer, values.byteSize() / bytes, bytes, type);
            values.copyFrom(buffer);
        }
    }

    /** A call into the MPI library: its return code. */
    @FunctionalInterface
    private interface Call {
        int invoke(long from, int count) throws Throwable;
    }

    /**
     * Runs collective {@code name} over {@code length} elements in calls of at most {@link #CHUNK}
     * (each given its first element and count), under the watchdog's deadline; an error code is
     * thrown with MPI's text.
     */
    private void collective(String name, long length, Call call) {
        open();
        begin(name);
        try {
            for (long from = 0; from < Math.max(1, length); from += CHUNK) check(name, call.invoke(from, (int) Math.min(CHUNK, length - from)));
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(name + ": " + t.getMessage(), t);
        } finally {
            end();
        }
    }

    /** MPI_Allreduce in place, summing, of {@code length} elements of {@code bytes} each. */
    private void allReduce(MemorySegment buffer, long length, int bytes, Object type) {
        collective("MPI_Allreduce", length, (from, count) -> (int) f.allreduce.invoke(abi.inPlace(), buffer.asSlice(from * bytes), count, type, abi.sum(),
                abi.world()));
    }

    @Override
    public synchronized void broadcast(byte[] data, int root) {
        if (root < 0 || root >= size) throw new IllegalArgumentException("broadcast from rank " + root + " in a job of " + size);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocateFrom(ValueLayout.JAVA_BYTE, data);
            collective("MPI_Bcast", data.length, (from, count) -> (int) f.bcast.invoke(buffer.asSlice(from), count, abi.byteType(), root, abi.world()));
            MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, data, 0, data.length);
        }
    }

    @Override
    public synchronized void barrier() {
        collective("MPI_Barrier", 0, (from, count) -> (int) f.barrier.invoke(abi.world()));
    }

    private void open() {
        if (closed) throw new IllegalStateException("MPI was finalized");
    }

    /** Finalizes MPI where this object initialised it (MPI cannot be initialised again in this process). */
    @Override
    public synchronized void close() {
        if (closed) return;
        try {
            if (initialisedHere) collective("MPI_Finalize", 0, (from, count) -> (int) f.finalizeMpi.invokeExact());
        } finally {
            closed = true;
            if (watchdog != null) watchdog.interrupt();
        }
    }
}
