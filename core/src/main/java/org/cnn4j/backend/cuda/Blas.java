package org.cnn4j.backend.cuda;

/**
 * The cuBLAS operation the CUDA backend uses: strict float32 SGEMM on device addresses.
 * {@link Cublas} implements it through {@code java.lang.foreign}; the tests also run the backend
 * over an emulator.
 */
interface Blas extends AutoCloseable {
    /** The file the library was loaded from. */
    String library();

    /** The library's version number, e.g. 130000 for cuBLAS 13.0.0. */
    long version();

    /** Issues the work to this CUDA stream, with this device buffer as the library's workspace. */
    void useStream(long stream, long workspace, long workspaceBytes);

    /**
     * Row-major C (m×n) = alpha·op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n, where A holds
     * {@code aColumns} values per row and B {@code bColumns}.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float a, long aAddress, int aColumns, long bAddress, int bColumns,
              float b, long cAddress);

    @Override
    void close();
}
