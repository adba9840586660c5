package org.cnn4j.backend.cuda;

import java.util.List;
import java.util.function.Supplier;

import org.cnn4j.distributed.Communicator;
import org.cnn4j.tensor.DType;
import org.cnn4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The processes of a job ({@link org.cnn4j.distributed.Mpi}'s, say) with the GPU of each joined
 * by NCCL: tensors on the GPU are averaged on the devices ({@link #allReduceMean}: NCCL's all-reduce
 * on the backend's stream, the tensors of a bucket issued as one group), so that gradients never
 * pass through the host and the reductions are issued while the backward pass goes on, or
 * recorded with the rest of a training step as one CUDA graph. Rank, size and the host
 * collectives are the job's own. Rank 0 makes NCCL's group id and sends it to the others with
 * the job's broadcast.
 *
 * <p>NCCL runs its work on the stream in order with the backend's kernels, so a bucket's
 * reduction waits for the kernels issued before it and delays those after it: what the buckets
 * save is the host's time (it never waits for a reduction) and, between nodes, the wait for the
 * last gradient before the first byte is sent.
 *
 * <p>Faults: a process that dies ends the job through the launcher (mpirun ends the others); a
 * failure NCCL reports later (a peer gone from the network) is thrown by the next all-reduce.
 * A peer that hangs leaves the others' reductions waiting on their GPUs: every host wait for the
 * GPU then has the job's deadline ({@link Communicator#deadline()}, MPI's
 * {@code -Dcnn4j.mpi.timeout}), past which the process logs its rank and what it waited for,
 * aborts NCCL and stops with exit status {@value org.cnn4j.distributed.Mpi#TIMEOUT_EXIT}, and the
 * launcher ends the rest.
 */
public final class NcclCommunicator implements Communicator {
    private static final Logger log = LoggerFactory.getLogger(NcclCommunicator.class);
    /** PyTorch DistributedDataParallel's default bucket: 25 MiB. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    private final CudaBackend gpu;
    private final Communicator job;
    private final Collectives nccl;
    private final long bucketBytes;
    /** Whether the GPU's waits have the job's deadline because of this communicator. */
    private final boolean guarded;
    private boolean closed;

    /**
     * Joins the GPUs of the processes of {@code job} (each process calls it with its backend, in
     * the same order as its other collectives), loading NCCL as the CUDA libraries are loaded
     * (-Dcnn4j.nccl or CNN4J_NCCL, the loader's search, CUDA's folders, NVIDIA's Python wheels).
     * When a process cannot load NCCL, every process fails with the reason. Closing this leaves
     * {@code job} open.
     */
    public static NcclCommunicator join(CudaBackend gpu, Communicator job) {
        return new NcclCommunicator(gpu, job, () -> new Nccl(Nccl.find()), DEFAULT_BUCKET_BYTES);
    }

    NcclCommunicator(CudaBackend gpu, Communicator job, Supplier<Collectives> library, long bucketBytes) {
        this.gpu = gpu;
        this.job = job;
        this.bucketBytes = bucketBytes;
        gpu.current();
        Collectives opened = null;
        String problem = null;
        try {
            opened = library.get();
        } catch (RuntimeException e) {
            problem = e.getMessage();
        }
        double[] failures = {problem == null ? 0 : 1};
        job.allReduceSum(failures); // every process learns of a failure rather than waiting for an id that never comes
        if (failures[0] > 0) {
            if (opened != null) opened.close();
            throw new CudaException(problem != null ? "rank " + job.rank() + ": " + problem
                    : (int) failures[0] + " of the job's " + job.size() + " processes could not load NCCL (their logs say why)");
        }
        this.nccl = opened;
        byte[] id = job.rank() == 0 ? nccl.uniqueId() : new byte[Nccl.UNIQUE_ID_BYTES];
        job.broadcast(id, 0);
        try {
            nccl.join(id, job.size(), job.rank());
        } catch (RuntimeException e) {
            nccl.close();
            throw e;
        }
        log.info("NCCL {} ({}): rank {} of {} on {}", Nccl.versionText(nccl.version()), nccl.library(), job.rank(), job.size(), gpu.name());
        java.util.Optional<java.time.Duration> deadline = job.deadline();
        deadline.ifPresent(limit -> gpu.driver.guardWaits(limit.toNanos(), this::expired));
        guarded = deadline.isPresent();
    }

    /**
     * A host wait for the GPU outlived the job's deadline: the device's work waits in a reduction
     * for a process that died or hung. Logs it, aborts NCCL and stops this process with
     * {@link org.cnn4j.distributed.Mpi#TIMEOUT_EXIT}, so that the launcher ends the others.
     */
    private void expired(String what, long waitedNanos) {
        log.error("rank {} of {}: waited {} s for {} on {} (its NCCL reductions wait for the other processes; one may have died or hung); "
                + "stopping this process (exit status {}) so that the launcher ends the job", rank(), size(), waitedNanos / 1_000_000_000L, what,
                gpu.name(), org.cnn4j.distributed.Mpi.TIMEOUT_EXIT);
        nccl.abort();
        Runtime.getRuntime().halt(org.cnn4j.distributed.Mpi.TIMEOUT_EXIT);
    }

    @Override
    public int rank() {
        return job.rank();
    }

    @Override
    public int size() {
        return job.size();
    }

    @Override
    public int localRank() {
        return job.localRank();
    }

    @Override
    public void allReduceSum(float[] values) {
        job.allReduceSum(values);
    }

    @Override
    public void allReduceSum(double[] values) {
        job.allReduceSum(values);
    }

    @Override
    public void broadcast(byte[] data, int root) {
        job.broadcast(data, root);
    }

    @Override
    public void barrier() {
        job.barrier();
    }

    /**
     * Each tensor (float32, on this communicator's GPU) becomes its mean over the processes, in
     * place, on the device: issued to the backend's stream and returned at once (even in a job of
     * one process, where NCCL copies nothing).
     */
    @Override
    public void allReduceMean(List<Tensor> tensors) {
        if (closed) throw new IllegalStateException("the NCCL communicator is closed");
        if (tensors.isEmpty()) return;
        long[] addresses = new long[tensors.size()], counts = new long[tensors.size()];
        for (int i = 0; i < addresses.length; i++) {
            Tensor t = tensors.get(i);
            if (t.dtype() != DType.FLOAT32) throw new IllegalArgumentException("allReduceMean: tensor " + i + " is " + t.dtype() + ", not FLOAT32");
            addresses[i] = gpu.a(t, "allReduceMean", "tensor " + i);
            counts[i] = t.size();
        }
        gpu.current();
        nccl.checkAsync();
        nccl.allReduceMean(addresses, counts, gpu.driver.streamAddress());
    }

    /** {@code t} (float32, on this GPU) becomes rank {@code root}'s, issued to the backend's stream. */
    public void broadcast(Tensor t, int root) {
        if (root < 0 || root >= size()) throw new IllegalArgumentException("broadcast from rank " + root + " in a job of " + size());
        if (t.dtype() != DType.FLOAT32) throw new IllegalArgumentException("broadcast: the tensor is " + t.dtype() + ", not FLOAT32");
        long address = gpu.a(t, "broadcast", "the tensor");
        gpu.current();
        nccl.checkAsync();
        nccl.broadcast(address, t.size(), root, gpu.driver.streamAddress());
    }

    /** {@value #DEFAULT_BUCKET_BYTES} bytes (25 MiB), as PyTorch's DistributedDataParallel. */
    @Override
    public long bucketBytes() {
        return bucketBytes;
    }

    /** The NCCL library's file and version, for reports. */
    public String describe() {
        return "NCCL " + Nccl.versionText(nccl.version()) + " (" + nccl.library() + ")";
    }

    /** Leaves the NCCL group (waiting for the device's work first); the job stays open, the GPU's waits without a deadline again. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        gpu.current();
        try {
            gpu.synchronize();
            nccl.close();
        } catch (RuntimeException e) {
            nccl.abort();
            throw e;
        } finally {
            if (guarded) gpu.driver.guardWaits(0, null);
        }
    }
}
