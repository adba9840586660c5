package org.cnn4j.distributed;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The processes of an MPI job ({@code mpirun -np N …}, or {@code srun} under Slurm) through the MPI
 * library itself, called with {@code java.lang.foreign}: Open MPI 4.x ({@code libmpi.so.40}, Debian's
 * {@code openmpi-bin}), whose handles ({@code MPI_COMM_WORLD}, {@code MPI_FLOAT}, {@code MPI_SUM}, …)
 * are the addresses of the library's predefined objects ({@code &ompi_mpi_comm_world}, …). MPICH
 * names its handles by integers instead, and is refused with that reason.
 *
 * <p>The C functions (Open MPI's {@code mpi.h}): {@code int MPI_Initialized(int *flag)}; {@code int
 * MPI_Init_thread(int *argc, char ***argv, int required, int *provided)}; {@code int
 * MPI_Comm_set_errhandler(MPI_Comm, MPI_Errhandler)}; {@code int MPI_Comm_rank(MPI_Comm, int *)};
 * {@code int MPI_Comm_size(MPI_Comm, int *)}; {@code int MPI_Allreduce(const void *sendbuf, void
 * *recvbuf, int count, MPI_Datatype, MPI_Op, MPI_Comm)}; {@code int MPI_Bcast(void *buffer, int
 * count, MPI_Datatype, int root, MPI_Comm)}; {@code int MPI_Barrier(MPI_Comm)}; {@code int
 * MPI_Error_string(int errorcode, char *string, int *resultlen)}; {@code int MPI_Finalize(void)}.
 * Every handle is a pointer. Errors return (MPI_ERRORS_RETURN on the world communicator) and are
 * thrown with MPI's own text. MPI is initialised with MPI_THREAD_SERIALIZED and every call here holds
 * this object's lock, so any Java thread may call.
 *
 * <p>Faults: Open MPI's mpirun ends the job when one of its processes dies. A process that hangs
 * instead would keep the others waiting in their next collective, so each collective has a
 * deadline ({@code -Dcnn4j.mpi.timeout=SECONDS}, default {@value #DEFAULT_TIMEOUT_SECONDS}, or
 * {@link #start(Duration)}): past it, a watchdog logs which rank waited in which call for how
 * long and halts this process with exit status {@value #TIMEOUT_EXIT}, and mpirun then ends the
 * others. A checkpoint being written at that moment is lost, the previous one stays whole (they
 * are written to a temporary file and renamed).
 *
 * <p>The local rank comes from the launcher's environment: {@code OMPI_COMM_WORLD_LOCAL_RANK} (Open
 * MPI's mpirun), {@code SLURM_LOCALID} (srun), {@code MPI_LOCALRANKID} (Hydra); 0 when none is set.
 * Under Slurm, {@code srun --mpi=pmix} starts the processes; a job step of several tasks whose
 * processes each see a job of one (srun without PMIx) is refused with that reason.
 */
public final class Mpi implements Communicator {
    private static final Logger log = LoggerFactory.getLogger(Mpi.class);
    private static final int MPI_SUCCESS = 0, MPI_THREAD_SERIALIZED = 2, MPI_MAX_ERROR_STRING = 256;
    /** Open MPI's MPI_IN_PLACE: {@code (void *) 1}. */
    private static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1);
    /** The most elements one MPI call takes (its count is an int). */
    private static final int CHUNK = 1 << 28;
    static final long DEFAULT_TIMEOUT_SECONDS = 600;
    /** The exit status of a process the watchdog stops. */
    public static final int TIMEOUT_EXIT = 75;

    private final Functions f;
    private final MemorySegment world, floatType, doubleType, byteType, sum;
    private final boolean initialisedHere;
    private final int rank, size, localRank;
    private final long timeoutNanos;
    /** When the collective under way must have returned (System.nanoTime), and its name; 0 and null between collectives. */
    private volatile long deadline;
    private volatile String waitingIn;
    private Thread watchdog;
    private boolean closed;

    private record Functions(MethodHandle initialized, MethodHandle initThread, MethodHandle setErrhandler, MethodHandle commRank,
                             MethodHandle commSize, MethodHandle allreduce, MethodHandle bcast, MethodHandle barrier, MethodHandle errorString,
                             MethodHandle finalizeMpi) {
    }

    private Mpi(SymbolLookup lib, Map<String, String> env, Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("the MPI timeout must be positive, got " + timeout);
        this.timeoutNanos = timeout.toNanos();
        Linker linker = Linker.nativeLinker();
        ValueLayout p = ValueLayout.ADDRESS, i = ValueLayout.JAVA_INT;
        f = new Functions(
                linker.downcallHandle(find(lib, "MPI_Initialized"), FunctionDescriptor.of(i, p)),
                linker.downcallHandle(find(lib, "MPI_Init_thread"), FunctionDescriptor.of(i, p, p, i, p)),
                linker.downcallHandle(find(lib, "MPI_Comm_set_errhandler"), FunctionDescriptor.of(i, p, p)),
                linker.downcallHandle(find(lib, "MPI_Comm_rank"), FunctionDescriptor.of(i, p, p)),
                linker.downcallHandle(find(lib, "MPI_Comm_size"), FunctionDescriptor.of(i, p, p)),
                linker.downcallHandle(find(lib, "MPI_Allreduce"), FunctionDescriptor.of(i, p, p, i, p, p, p)),
                linker.downcallHandle(find(lib, "MPI_Bcast"), FunctionDescriptor.of(i, p, i, p, i, p)),
                linker.downcallHandle(find(lib, "MPI_Barrier"), FunctionDescriptor.of(i, p)),
                linker.downcallHandle(find(lib, "MPI_Error_string"), FunctionDescriptor.of(i, i, p, p)),
                linker.downcallHandle(find(lib, "MPI_Finalize"), FunctionDescriptor.of(i)));
        world = find(lib, "ompi_mpi_comm_world");
        floatType = find(lib, "ompi_mpi_float");
        doubleType = find(lib, "ompi_mpi_double");
        byteType = find(lib, "ompi_mpi_byte");
        sum = find(lib, "ompi_mpi_op_sum");
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
            check("MPI_Comm_set_errhandler", (int) f.setErrhandler.invokeExact(world, find(lib, "ompi_mpi_errors_return")));
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("MPI_Comm_rank", (int) f.commRank.invokeExact(world, out));
            rank = out.get(ValueLayout.JAVA_INT, 0);
            check("MPI_Comm_size", (int) f.commSize.invokeExact(world, out));
            size = out.get(ValueLayout.JAVA_INT, 0);
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI could not start: " + t.getMessage(), t);
        }
        localRank = localRank(env);
        String mismatch = launcherMismatch(env, size);
        if (mismatch != null) throw new IllegalStateException(mismatch);
        log.debug("MPI rank {} of {}, local rank {}", rank, size, localRank);
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

    private static SymbolLookup library() {
        List<String> tried = new ArrayList<>();
        for (String name : List.of("libmpi.so.40", "libmpi.so", "libmpi.so.12")) {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup(name, Arena.global());
                if (lib.find("ompi_mpi_comm_world").isEmpty()) {
                    throw new IllegalStateException(name + " is not Open MPI (no ompi_mpi_comm_world; MPICH's integer handles are not supported): "
                            + "install Open MPI (apt-get install openmpi-bin) and launch with its mpirun");
                }
                return lib;
            } catch (IllegalArgumentException e) {
                tried.add(name);
            }
        }
        throw new IllegalStateException("no MPI library found (tried " + String.join(", ", tried)
                + "): install Open MPI (apt-get install openmpi-bin) or add its lib directory to LD_LIBRARY_PATH");
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
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocateFrom(ValueLayout.JAVA_FLOAT, values);
            allReduce(buffer, values.length, Float.BYTES, floatType);
            MemorySegment.copy(buffer, ValueLayout.JAVA_FLOAT, 0, values, 0, values.length);
        }
    }

    @Override
    public synchronized void allReduceSum(double[] values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, values);
            allReduce(buffer, values.length, Double.BYTES, doubleType);
            MemorySegment.copy(buffer, ValueLayout.JAVA_DOUBLE, 0, values, 0, values.length);
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
    private void allReduce(MemorySegment buffer, long length, int bytes, MemorySegment type) {
        collective("MPI_Allreduce", length, (from, count) -> (int) f.allreduce.invokeExact(IN_PLACE, buffer.asSlice(from * bytes), count, type, sum, world));
    }

    @Override
    public synchronized void broadcast(byte[] data, int root) {
        if (root < 0 || root >= size) throw new IllegalArgumentException("broadcast from rank " + root + " in a job of " + size);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocateFrom(ValueLayout.JAVA_BYTE, data);
            collective("MPI_Bcast", data.length, (from, count) -> (int) f.bcast.invokeExact(buffer.asSlice(from), count, byteType, root, world));
            MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, data, 0, data.length);
        }
    }

    @Override
    public synchronized void barrier() {
        collective("MPI_Barrier", 0, (from, count) -> (int) f.barrier.invokeExact(world));
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
