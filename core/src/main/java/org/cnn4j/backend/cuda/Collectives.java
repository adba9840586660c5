package org.cnn4j.backend.cuda;

/**
 * One process's part in the collectives of a group of GPUs, the calls {@link NcclCommunicator}
 * makes: {@link Nccl} implements them through {@code java.lang.foreign}; the tests also run them
 * over emulated GPUs. Operations are issued to a CUDA stream and return before they are done.
 */
interface Collectives extends AutoCloseable {
    /** The file the library was loaded from. */
    String library();

    /** The library's version number, e.g. 22703 for NCCL 2.27.3. */
    long version();

    /** A new group's identity (rank 0 makes it and sends it to the others). */
    byte[] uniqueId();

    /** Joins group {@code id} as {@code rank} of {@code size}, on the current device; returns when every rank has joined. */
    void join(byte[] id, int size, int rank);

    /** Each buffer ({@code counts[i]} floats at {@code addresses[i]}) becomes its mean over the ranks, in place, issued as one group. */
    void allReduceMean(long[] addresses, long[] counts, long stream);

    /** {@code count} floats at {@code address} become rank {@code root}'s. */
    void broadcast(long address, long count, int root, long stream);

    /** Throws when an operation issued earlier has failed on the device or the network. */
    void checkAsync();

    /** Ends the group at once without waiting for the other ranks (after a failure). */
    void abort();

    @Override
    void close();
}
