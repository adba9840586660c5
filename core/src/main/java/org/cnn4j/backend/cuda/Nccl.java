package org.cnn4j.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.cnn4j.backend.cuda.NativeLibrary.call;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;

/**
 * NCCL 2 ({@code libnccl.so.2}: the system's, CUDA's, or the {@code nvidia/nccl} wheel that PyTorch
 * installs) through {@code java.lang.foreign}. The C functions, as nccl.h declares them (every
 * {@code ncclResult_t} and enum an int, {@code ncclComm_t} and {@code cudaStream_t} pointers):
 * {@code ncclGetVersion(int *version)}; {@code ncclGetUniqueId(ncclUniqueId *uniqueId)};
 * {@code ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)}, the id a
 * struct of 128 bytes passed by value; {@code ncclAllReduce(const void *sendbuff, void *recvbuff,
 * size_t count, ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)};
 * {@code ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
 * int root, ncclComm_t comm, cudaStream_t stream)}; {@code ncclGroupStart(void)}, {@code
 * ncclGroupEnd(void)}; {@code ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError)};
 * {@code ncclCommAbort(ncclComm_t)}, {@code ncclCommDestroy(ncclComm_t)}; {@code const char
 * *ncclGetErrorString(ncclResult_t)} and, from NCCL 2.13, {@code const char
 * *ncclGetLastError(ncclComm_t)}, whose detail a failure's message adds.
 *
 * <p>Means are NCCL's own {@code ncclAvg} (NCCL 2.10 and later: for floats, each rank's values
 * times 1/ranks, summed), in place (send and receive buffer the same).
 */
final class Nccl implements Collectives {
    static final int UNIQUE_ID_BYTES = 128;
    /** ncclDataType_t ncclFloat32; ncclRedOp_t ncclAvg; ncclResult_t ncclInProgress. */
    static final int FLOAT32 = 7, AVG = 4, IN_PROGRESS = 7;
    /** The first version with ncclAvg: 2.10.0 (major·10000 + minor·100 + patch). */
    static final int FIRST_WITH_AVG = 21000;
    private static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE));

    private final NativeLibrary lib;
    private final MethodHandle getUniqueId, commInitRank, allReduce, broadcast, groupStart, groupEnd, asyncError, abort, destroy, errorString,
            lastError;
    private final int version;
    private MemorySegment comm = MemorySegment.NULL;

    /**
     * libnccl: the file -Dcnn4j.nccl or CNN4J_NCCL names, else libnccl.so.2 where the loader and
     * CUDA look, else in a Python environment's NVIDIA wheels.
     */
    static NativeLibrary find() {
        return NativeLibrary.open("NCCL", "cnn4j.nccl", "CNN4J_NCCL", List.of("libnccl.so.2"), Map.of(), NativeLibrary.wheelFolders());
    }

    Nccl(NativeLibrary lib) {
        this.lib = lib;
        MethodHandle getVersion = lib.function("ncclGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getUniqueId = lib.function("ncclGetUniqueId", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commInitRank = lib.function("ncclCommInitRank", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
        allReduce = lib.function("ncclAllReduce", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        broadcast = lib.function("ncclBroadcast", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        groupStart = lib.function("ncclGroupStart", FunctionDescriptor.of(JAVA_INT));
        groupEnd = lib.function("ncclGroupEnd", FunctionDescriptor.of(JAVA_INT));
        asyncError = lib.function("ncclCommGetAsyncError", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        abort = lib.function("ncclCommAbort", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = lib.function("ncclCommDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        errorString = lib.function("ncclGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        lastError = lib.optionalFunction("ncclGetLastError", FunctionDescriptor.of(ADDRESS, ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(JAVA_INT);
            check(call(getVersion, v), "ncclGetVersion", "");
            version = v.get(JAVA_INT, 0);
        }
        if (version < FIRST_WITH_AVG) {
            throw new CudaException("NCCL " + versionText(version) + " (" + lib.file() + ") is older than 2.10, the first with ncclAvg: install NCCL 2.10 or later"
                    + " (the nvidia-nccl wheel, or NVIDIA's libnccl2 package) and point -Dcnn4j.nccl at it");
        }
    }

    /**
     * "NCCL 2.27.3: FILE", or why NCCL cannot be used, for reports. Loads the library and asks its
     * version: no device or communicator needed.
     */
    static String describe() {
        try (Nccl nccl = new Nccl(find())) {
            return "NCCL " + versionText(nccl.version()) + ": " + nccl.library();
        } catch (CudaException | IllegalArgumentException e) {
            return "NCCL: not usable (data-parallel training on GPUs averages through the host): " + e.getMessage();
        }
    }

    /** 2.27.3 from 22703; versions before 2.9 counted major·1000 + minor·100 + patch. */
    static String versionText(long v) {
        return v >= 10000 ? v / 10000 + "." + v / 100 % 100 + "." + v % 100 : v / 1000 + "." + v / 100 % 10 + "." + v % 100;
    }

    @Override
    public String library() {
        return lib.file().toString();
    }

    @Override
    public long version() {
        return version;
    }

    @Override
    public byte[] uniqueId() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocate(UNIQUE_ID);
            check(call(getUniqueId, id), "ncclGetUniqueId", "");
            return id.toArray(JAVA_BYTE);
        }
    }

    @Override
    public void join(byte[] id, int size, int rank) {
        if (id.length != UNIQUE_ID_BYTES) throw new IllegalArgumentException("an NCCL id has " + UNIQUE_ID_BYTES + " bytes, got " + id.length);
        if (comm.address() != 0) throw new IllegalStateException("this NCCL communicator has already joined a group");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment value = arena.allocate(UNIQUE_ID);
            MemorySegment.copy(id, 0, value, JAVA_BYTE, 0, UNIQUE_ID_BYTES);
            check(call(commInitRank, out, size, value, rank), "ncclCommInitRank", "rank " + rank + " of " + size);
            comm = out.get(ADDRESS, 0);
        }
    }

    @Override
    public void allReduceMean(long[] addresses, long[] counts, long stream) {
        MemorySegment s = MemorySegment.ofAddress(stream);
        check(call(groupStart), "ncclGroupStart", "");
        int status = 0;
        String failed = "";
        for (int i = 0; i < addresses.length && status == 0; i++) {
            MemorySegment buffer = MemorySegment.ofAddress(addresses[i]);
            status = call(allReduce, buffer, buffer, counts[i], FLOAT32, AVG, comm(), s);
            failed = counts[i] + " floats at 0x" + Long.toHexString(addresses[i]);
        }
        int end = call(groupEnd); // the group is closed even when a call in it failed
        check(status, "ncclAllReduce", failed);
        check(end, "ncclGroupEnd", addresses.length + " all-reduces");
    }

    @Override
    public void broadcast(long address, long count, int root, long stream) {
        MemorySegment buffer = MemorySegment.ofAddress(address);
        check(call(broadcast, buffer, buffer, count, FLOAT32, root, comm(), MemorySegment.ofAddress(stream)), "ncclBroadcast",
                count + " floats from rank " + root);
    }

    @Override
    public void checkAsync() {
        if (comm.address() == 0) return;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(call(asyncError, comm, out), "ncclCommGetAsyncError", "");
            int status = out.get(JAVA_INT, 0);
            if (status != IN_PROGRESS) check(status, "an NCCL operation", "reported by ncclCommGetAsyncError");
        }
    }

    @Override
    public void abort() {
        if (comm.address() == 0) return;
        call(abort, comm);
        comm = MemorySegment.NULL;
    }

    @Override
    public void close() {
        if (comm.address() == 0) return;
        MemorySegment c = comm;
        comm = MemorySegment.NULL;
        check(call(destroy, c), "ncclCommDestroy", "");
    }

    private MemorySegment comm() {
        if (comm.address() == 0) throw new IllegalStateException("NCCL: not in a group (join first, or the communicator was closed)");
        return comm;
    }

    /** Throws for a status other than ncclSuccess, with NCCL's text for it and, where the library keeps one, its last error's detail. */
    private void check(int status, String call, String detail) {
        if (status == 0) return;
        String text = NativeLibrary.statusText(errorString, status);
        String last = "";
        if (lastError != null) {
            try {
                last = ((MemorySegment) lastError.invoke(comm)).reinterpret(1024).getString(0);
            } catch (Throwable t) {
                last = "";
            }
        }
        throw new CudaException(call + (detail.isEmpty() ? "" : " (" + detail + ")") + " failed: " + text + " (" + status + ")"
                + (last.isBlank() ? "" : ": " + last.strip()));
    }
}
