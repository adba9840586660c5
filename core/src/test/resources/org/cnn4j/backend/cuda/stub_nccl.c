/*
 * stub_nccl.c -- a stand-in for libnccl.so.2 with the signatures of NCCL 2's nccl.h, for the
 * CPU-side test of cnn4j's foreign-function binding (NcclBindingsTest). ncclUniqueId is declared
 * as in nccl.h (a struct of 128 chars, passed by value to ncclCommInitRank), so the compiler
 * passes it as NCCL's callers do. Each function checks the communicator it is given, appends a
 * line describing its arguments to a log the test reads through stub_log(), and returns success
 * or the status the test asked for.
 *
 * Build: gcc -shared -fPIC -o libstubnccl.so stub_nccl.c
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;
typedef struct ncclComm *ncclComm_t;
typedef void *cudaStream_t;

static char log_buffer[65536];
static size_t log_used;
static struct ncclComm { int rank, nranks; } the_comm;
static int version = 22703, fail_all_reduce_at = -1, fail_status, async_status, all_reduces, group_depth;

static void note(const char *line) {
    size_t n = strlen(line);
    if (log_used + n + 2 < sizeof log_buffer) {
        memcpy(log_buffer + log_used, line, n);
        log_used += n;
        log_buffer[log_used++] = '\n';
        log_buffer[log_used] = 0;
    }
}

const char *stub_log(void) { return log_buffer; }
void stub_clear(void) { log_used = 0; log_buffer[0] = 0; all_reduces = 0; }
void stub_version(int v) { version = v; }
/* The all-reduce number `at` (from 0, counted since stub_clear) returns `status`; -1: none fails. */
void stub_fail_all_reduce(int at, int status) { fail_all_reduce_at = at; fail_status = status; }
void stub_async_error(int status) { async_status = status; }

int ncclGetVersion(int *v) { *v = version; note("ncclGetVersion"); return 0; }

const char *ncclGetErrorString(int status) {
    switch (status) {
        case 0: return "no error";
        case 2: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case 4: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case 6: return "remote process exited or there was a network error";
        default: return "unknown result code";
    }
}

const char *ncclGetLastError(ncclComm_t comm) { (void) comm; return "stub: peer 1 is gone"; }

int ncclGetUniqueId(ncclUniqueId *id) {
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; i++) id->internal[i] = (char) (i * 3 + 1);
    note("ncclGetUniqueId");
    return 0;
}

int ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    unsigned sum = 0;
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; i++) sum = sum * 31 + (unsigned char) id.internal[i];
    char line[160];
    snprintf(line, sizeof line, "ncclCommInitRank nranks %d rank %d id %02x %02x .. %02x hash %08x", nranks, rank,
             (unsigned char) id.internal[0], (unsigned char) id.internal[1], (unsigned char) id.internal[127], sum);
    note(line);
    if (rank < 0 || rank >= nranks) return 4;
    the_comm.rank = rank;
    the_comm.nranks = nranks;
    *comm = &the_comm;
    return 0;
}

int ncclGroupStart(void) { group_depth++; note("ncclGroupStart"); return 0; }
int ncclGroupEnd(void) { group_depth--; note("ncclGroupEnd"); return 0; }

int ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, int datatype, int op, ncclComm_t comm, cudaStream_t stream) {
    char line[200];
    snprintf(line, sizeof line, "ncclAllReduce send %p recv %p count %zu type %d op %d comm %s stream %p group %d", sendbuff, recvbuff, count,
             datatype, op, comm == &the_comm ? "ok" : "BAD", stream, group_depth);
    note(line);
    if (comm != &the_comm) return 4;
    return all_reduces++ == fail_all_reduce_at ? fail_status : 0;
}

int ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, int datatype, int root, ncclComm_t comm, cudaStream_t stream) {
    char line[200];
    snprintf(line, sizeof line, "ncclBroadcast send %p recv %p count %zu type %d root %d comm %s stream %p", sendbuff, recvbuff, count,
             datatype, root, comm == &the_comm ? "ok" : "BAD", stream);
    note(line);
    return comm == &the_comm ? 0 : 4;
}

int ncclCommGetAsyncError(ncclComm_t comm, int *status) {
    note(comm == &the_comm ? "ncclCommGetAsyncError" : "ncclCommGetAsyncError BAD");
    *status = async_status;
    return comm == &the_comm ? 0 : 4;
}

int ncclCommAbort(ncclComm_t comm) { note(comm == &the_comm ? "ncclCommAbort" : "ncclCommAbort BAD"); return 0; }
int ncclCommDestroy(ncclComm_t comm) { note(comm == &the_comm ? "ncclCommDestroy" : "ncclCommDestroy BAD"); return comm == &the_comm ? 0 : 4; }
