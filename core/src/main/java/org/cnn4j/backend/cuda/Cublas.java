package org.cnn4j.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.cnn4j.backend.cuda.NativeLibrary.call;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * cuBLAS (13 or 12) through {@code java.lang.foreign}: the handle and SGEMM for dense layers, in
 * strict float32 (CUBLAS_DEFAULT_MATH: no TF32 in dense layers, as PyTorch by default). Signatures
 * follow cublas_api.h. Every call is checked and a failure names the call and cuBLAS's status text.
 */
final class Cublas implements Blas {
    static final int OP_N = 0, OP_T = 1, DEFAULT_MATH = 0;
    private final NativeLibrary lib;
    private final Arena arena = Arena.ofShared();
    private final MethodHandle destroy, sgemm, statusString, setStream, setWorkspace, getVersion;
    private final MemorySegment handle, alpha, beta;
    private boolean closed;

    Cublas(NativeLibrary lib) {
        this.lib = lib;
        MethodHandle create = lib.function("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = lib.function("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setMath = lib.function("cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        statusString = lib.function("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        // cublasSgemm_v2(handle, transa, transb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc)
        sgemm = lib.function("cublasSgemm_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        // cublasSetStream_v2(handle, cudaStream_t streamId)
        setStream = lib.function("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        // cublasSetWorkspace_v2(handle, void *workspace, size_t workspaceSizeInBytes)
        setWorkspace = lib.function("cublasSetWorkspace_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        // cublasGetVersion_v2(handle, int *version)
        getVersion = lib.function("cublasGetVersion_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MemorySegment out = arena.allocate(ADDRESS);
        check(call(create, out), "cublasCreate_v2", "");
        handle = out.get(ADDRESS, 0);
        check(call(setMath, handle, DEFAULT_MATH), "cublasSetMathMode", "CUBLAS_DEFAULT_MATH");
        alpha = arena.allocate(JAVA_FLOAT);
        beta = arena.allocate(JAVA_FLOAT);
    }

    @Override
    public String library() {
        return lib.file().toString();
    }

    /** major·10000 + minor·100 + patch, as cublasGetVersion_v2 reports it. */
    @Override
    public long version() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment v = call.allocate(JAVA_INT);
            check(call(getVersion, handle, v), "cublasGetVersion_v2", "");
            return v.get(JAVA_INT, 0);
        }
    }

    /**
     * Makes cuBLAS issue its work to this CUDA stream, with this device buffer as its workspace
     * (set after the stream, which resets it): a workspace of cnn4j's own keeps cuBLAS from
     * allocating one of its own inside a recorded CUDA graph.
     */
    @Override
    public void useStream(long stream, long workspace, long workspaceBytes) {
        check(call(setStream, handle, MemorySegment.ofAddress(stream)), "cublasSetStream_v2", "");
        check(call(setWorkspace, handle, MemorySegment.ofAddress(workspace), workspaceBytes), "cublasSetWorkspace_v2", workspaceBytes + " bytes");
    }

    private void check(int status, String call, String detail) {
        NativeLibrary.check(status, statusString, call, detail);
    }

    /**
     * Row-major C (m×n) = alpha·op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n, where A holds
     * {@code aColumns} values per row and B {@code bColumns}. cuBLAS is column-major, so this asks it
     * for Cᵀ = op(B)ᵀ·op(A)ᵀ: the same memory read the other way round.
     */
    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float a, long aAddress, int aColumns, long bAddress, int bColumns,
              float b, long cAddress) {
        alpha.set(JAVA_FLOAT, 0, a);
        beta.set(JAVA_FLOAT, 0, b);
        check(call(sgemm, handle, transB ? OP_T : OP_N, transA ? OP_T : OP_N, n, m, k, alpha, MemorySegment.ofAddress(bAddress), bColumns,
                MemorySegment.ofAddress(aAddress), aColumns, beta, MemorySegment.ofAddress(cAddress), n),
                "cublasSgemm_v2", "C " + m + "x" + n + " = op(A) " + m + "x" + k + " * op(B) " + k + "x" + n);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        call(destroy, handle);
        arena.close();
    }
}
