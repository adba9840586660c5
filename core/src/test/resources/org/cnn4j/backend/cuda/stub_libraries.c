/*
 * stub_libraries.c -- stand-ins for libcudnn and libcublas with the signatures of cuDNN 9's
 * cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h and cuBLAS's cublas_api.h, for the CPU-side test of
 * cnn4j's foreign-function bindings (CudaBindingsTest). Each function checks the handle it is
 * given, appends a line describing its arguments to a log the test reads through stub_log(), and
 * returns success (or, where the test asks for it, an error). The perf-result struct is declared
 * exactly as in cudnn_cnn.h, so the compiler lays it out as cuDNN does.
 *
 * Build: gcc -shared -fPIC -o libstub.so stub_libraries.c
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static char log_buffer[65536];
static size_t log_used;
static void *const HANDLE = (void *) 0x1234;

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
void stub_clear(void) { log_used = 0; log_buffer[0] = 0; }

/* ---------------------------------------------------------------- cuDNN */

typedef struct {
    int algo;
    int status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
} perf_t;

size_t cudnnGetVersion(void) { return 91400; }

const char *cudnnGetErrorString(int status) {
    return status == 2000 ? "CUDNN_STATUS_BAD_PARAM" : status == 0 ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_OTHER";
}

int cudnnCreate(void **handle) { *handle = HANDLE; note("cudnnCreate"); return 0; }

int cudnnSetStream(void *handle, void *stream) {
    char line[64];
    snprintf(line, sizeof line, "cudnnSetStream %p", stream);
    note(line);
    return handle == HANDLE ? 0 : 2000;
}
int cudnnDestroy(void *handle) { note(handle == HANDLE ? "cudnnDestroy" : "cudnnDestroy BAD HANDLE"); return handle == HANDLE ? 0 : 2000; }

static long descriptors = 0x100;
static int create(void **d, const char *what) {
    char line[128];
    *d = (void *) descriptors++;
    snprintf(line, sizeof line, "%s %p", what, *d);
    note(line);
    return 0;
}
int cudnnCreateTensorDescriptor(void **d) { return create(d, "createTensor"); }
int cudnnCreateFilterDescriptor(void **d) { return create(d, "createFilter"); }
int cudnnCreateConvolutionDescriptor(void **d) { return create(d, "createConv"); }
int cudnnDestroyTensorDescriptor(void *d) { (void) d; note("destroyTensor"); return 0; }
int cudnnDestroyFilterDescriptor(void *d) { (void) d; note("destroyFilter"); return 0; }
int cudnnDestroyConvolutionDescriptor(void *d) { (void) d; note("destroyConv"); return 0; }

/* cudnn_ops.h: cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t *),
   cudnnSetActivationDescriptor(desc, cudnnActivationMode_t mode, cudnnNanPropagation_t reluNanOpt, double coef) */
int cudnnCreateActivationDescriptor(void **d) { return create(d, "createActivation"); }
int cudnnDestroyActivationDescriptor(void *d) { (void) d; note("destroyActivation"); return 0; }
int cudnnSetActivationDescriptor(void *d, int mode, int nanOpt, double coef) {
    char line[128];
    snprintf(line, sizeof line, "setActivation %p mode %d nan %d coef %g", d, mode, nanOpt, coef);
    note(line);
    return 0;
}

int cudnnSetTensor4dDescriptor(void *d, int format, int type, int n, int c, int h, int w) {
    char line[128];
    snprintf(line, sizeof line, "setTensor4d %p format %d type %d %d %d %d %d", d, format, type, n, c, h, w);
    note(line);
    return n != 999 ? 0 : 2000; /* the test asks for an error with n = 999 */
}

int cudnnSetFilter4dDescriptor(void *d, int type, int format, int k, int c, int h, int w) {
    char line[128];
    snprintf(line, sizeof line, "setFilter4d %p type %d format %d %d %d %d %d", d, type, format, k, c, h, w);
    note(line);
    return 0;
}

int cudnnSetConvolution2dDescriptor(void *d, int padH, int padW, int u, int v, int dilH, int dilW, int mode, int type) {
    char line[160];
    snprintf(line, sizeof line, "setConv2d %p pad %d %d stride %d %d dilation %d %d mode %d type %d", d, padH, padW, u, v, dilH, dilW,
             mode, type);
    note(line);
    return 0;
}

int cudnnSetConvolutionMathType(void *d, int math) {
    char line[64];
    snprintf(line, sizeof line, "setMath %p %d", d, math);
    note(line);
    return 0;
}

/* The next `find_failures` finds return `find_failure_status` (an allocation failure, say) instead of results. */
static int find_failures, find_failure_status;
void stub_fail_finds(int times, int status) { find_failures = times; find_failure_status = status; }

static int find(void *handle, const char *what, int requested, int *returned, perf_t *perf) {
    char line[64];
    if (handle != HANDLE) return 2000;
    snprintf(line, sizeof line, "%s requested %d", what, requested);
    note(line);
    if (find_failures > 0) {
        find_failures--;
        return find_failure_status;
    }
    memset(perf, 0, sizeof(perf_t) * 5);
    /* fastest first, as cuDNN sorts them: too much workspace; non-deterministic; 3% slower with less
       workspace; 25% slower with less again; deterministic */
    perf[0].algo = 1; perf[0].status = 0; perf[0].time = 0.1f; perf[0].memory = (size_t) 1 << 40; perf[0].determinism = 1; perf[0].mathType = 1;
    perf[1].algo = 5; perf[1].status = 0; perf[1].time = 0.2f; perf[1].memory = 4096; perf[1].determinism = 0; perf[1].mathType = 1;
    perf[2].algo = 7; perf[2].status = 0; perf[2].time = 0.206f; perf[2].memory = 2048; perf[2].determinism = 0; perf[2].mathType = 1;
    perf[3].algo = 2; perf[3].status = 0; perf[3].time = 0.25f; perf[3].memory = 1024; perf[3].determinism = 0; perf[3].mathType = 0;
    perf[4].algo = 6; perf[4].status = 0; perf[4].time = 0.3f; perf[4].memory = 8192; perf[4].determinism = 1; perf[4].mathType = 3;
    *returned = 5;
    return 0;
}

int cudnnFindConvolutionForwardAlgorithm(void *h, void *x, void *w, void *c, void *y, int req, int *ret, perf_t *perf) {
    (void) x; (void) w; (void) c; (void) y;
    return find(h, "findForward", req, ret, perf);
}
int cudnnFindConvolutionBackwardDataAlgorithm(void *h, void *w, void *dy, void *c, void *dx, int req, int *ret, perf_t *perf) {
    (void) w; (void) dy; (void) c; (void) dx;
    return find(h, "findBackwardData", req, ret, perf);
}
int cudnnFindConvolutionBackwardFilterAlgorithm(void *h, void *x, void *dy, void *c, void *dw, int req, int *ret, perf_t *perf) {
    (void) x; (void) dy; (void) c; (void) dw;
    return find(h, "findBackwardFilter", req, ret, perf);
}

/* cuDNN's heuristics (no timing): the first needs workspace; then none, non-deterministic, tensor-core math; none,
   deterministic, FMA; none, deterministic, default math */
static int heuristic(void *handle, const char *what, int requested, int *returned, perf_t *perf) {
    char line[64];
    if (handle != HANDLE) return 2000;
    snprintf(line, sizeof line, "%s requested %d", what, requested);
    note(line);
    memset(perf, 0, sizeof(perf_t) * 4);
    perf[0].algo = 3; perf[0].time = -1; perf[0].memory = 4096; perf[0].determinism = 1; perf[0].mathType = 3;
    perf[1].algo = 0; perf[1].time = -1; perf[1].memory = 0; perf[1].determinism = 0; perf[1].mathType = 1;
    perf[2].algo = 4; perf[2].time = -1; perf[2].memory = 0; perf[2].determinism = 1; perf[2].mathType = 3;
    perf[3].algo = 1; perf[3].time = -1; perf[3].memory = 0; perf[3].determinism = 1; perf[3].mathType = 0;
    *returned = 4;
    return 0;
}

int cudnnGetConvolutionForwardAlgorithm_v7(void *h, void *x, void *w, void *c, void *y, int req, int *ret, perf_t *perf) {
    (void) x; (void) w; (void) c; (void) y;
    return heuristic(h, "heuristicForward", req, ret, perf);
}
int cudnnGetConvolutionBackwardDataAlgorithm_v7(void *h, void *w, void *dy, void *c, void *dx, int req, int *ret, perf_t *perf) {
    (void) w; (void) dy; (void) c; (void) dx;
    return heuristic(h, "heuristicBackwardData", req, ret, perf);
}
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void *h, void *x, void *dy, void *c, void *dw, int req, int *ret, perf_t *perf) {
    (void) x; (void) dy; (void) c; (void) dw;
    return heuristic(h, "heuristicBackwardFilter", req, ret, perf);
}

static int run(void *handle, const char *what, const float *alpha, void *a, void *b, int algo, void *ws, size_t wsBytes,
               const float *beta, void *out) {
    char line[200];
    snprintf(line, sizeof line, "%s alpha %g in %p %p algo %d workspace %p %zu beta %g out %p", what, *alpha, a, b, algo, ws, wsBytes,
             *beta, out);
    note(line);
    return handle == HANDLE ? 0 : 2000;
}

int cudnnConvolutionForward(void *h, const float *alpha, void *xd, void *x, void *wd, void *w, void *cd, int algo, void *ws,
                            size_t wsBytes, const float *beta, void *yd, void *y) {
    (void) xd; (void) wd; (void) cd; (void) yd;
    return run(h, "convForward", alpha, x, w, algo, ws, wsBytes, beta, y);
}
int cudnnConvolutionBackwardData(void *h, const float *alpha, void *wd, void *w, void *dyd, void *dy, void *cd, int algo, void *ws,
                                 size_t wsBytes, const float *beta, void *dxd, void *dx) {
    (void) wd; (void) dyd; (void) cd; (void) dxd;
    return run(h, "convBackwardData", alpha, w, dy, algo, ws, wsBytes, beta, dx);
}
int cudnnConvolutionBackwardFilter(void *h, const float *alpha, void *xd, void *x, void *dyd, void *dy, void *cd, int algo, void *ws,
                                   size_t wsBytes, const float *beta, void *dwd, void *dw) {
    (void) xd; (void) dyd; (void) cd; (void) dwd;
    return run(h, "convBackwardFilter", alpha, x, dy, algo, ws, wsBytes, beta, dw);
}

int cudnnConvolutionBackwardBias(void *h, const float *alpha, void *dyd, void *dy, const float *beta, void *dbd, void *db) {
    char line[128];
    (void) dyd; (void) dbd;
    snprintf(line, sizeof line, "convBackwardBias alpha %g dy %p beta %g db %p", *alpha, dy, *beta, db);
    note(line);
    return h == HANDLE ? 0 : 2000;
}

/* cudnn_cnn.h: y = act(alpha1 * conv(x, w) + alpha2 * z + bias) */
int cudnnConvolutionBiasActivationForward(void *h, const float *alpha1, void *xd, void *x, void *wd, void *w, void *cd, int algo,
                                          void *ws, size_t wsBytes, const float *alpha2, void *zd, void *z, void *bd, void *bias,
                                          void *ad, void *yd, void *y) {
    char line[256];
    (void) xd; (void) wd; (void) cd; (void) zd; (void) bd; (void) yd;
    snprintf(line, sizeof line, "convBiasActivation alpha1 %g in %p %p algo %d workspace %p %zu alpha2 %g z %p bias %p activation %p out %p",
             *alpha1, x, w, algo, ws, wsBytes, *alpha2, z, bias, ad, y);
    note(line);
    return h == HANDLE ? 0 : 2000;
}

int cudnnAddTensor(void *h, const float *alpha, void *ad, void *a, const float *beta, void *cd, void *c) {
    char line[128];
    (void) ad; (void) cd;
    snprintf(line, sizeof line, "addTensor alpha %g a %p beta %g c %p", *alpha, a, *beta, c);
    note(line);
    return h == HANDLE ? 0 : 2000;
}

int cudnnSoftmaxForward(void *h, int algo, int mode, const float *alpha, void *xd, void *x, const float *beta, void *yd, void *y) {
    char line[128];
    (void) xd; (void) yd;
    snprintf(line, sizeof line, "softmaxForward algo %d mode %d alpha %g x %p beta %g y %p", algo, mode, *alpha, x, *beta, y);
    note(line);
    return h == HANDLE ? 0 : 2000;
}

int cudnnSoftmaxBackward(void *h, int algo, int mode, const float *alpha, void *yd, void *y, void *dyd, void *dy, const float *beta,
                         void *dxd, void *dx) {
    char line[160];
    (void) yd; (void) dyd; (void) dxd;
    snprintf(line, sizeof line, "softmaxBackward algo %d mode %d alpha %g y %p dy %p beta %g dx %p", algo, mode, *alpha, y, dy, *beta, dx);
    note(line);
    return h == HANDLE ? 0 : 2000;
}

/* ---------------------------------------------------------------- cuBLAS */

static void *const BLAS = (void *) 0x5678;

int cublasCreate_v2(void **handle) { *handle = BLAS; note("cublasCreate"); return 0; }
int cublasGetVersion_v2(void *handle, int *version) { *version = 130100; return handle == BLAS ? 0 : 7; }
int cublasDestroy_v2(void *handle) { note("cublasDestroy"); return handle == BLAS ? 0 : 7; }
const char *cublasGetStatusString(int status) { return status == 7 ? "CUBLAS_STATUS_INVALID_VALUE" : "CUBLAS_STATUS_OTHER"; }

int cublasSetStream_v2(void *handle, void *stream) {
    char line[64];
    snprintf(line, sizeof line, "cublasSetStream %p", stream);
    note(line);
    return handle == BLAS ? 0 : 7;
}

/* cublas_api.h: cublasSetWorkspace_v2(cublasHandle_t, void *workspace, size_t workspaceSizeInBytes) */
int cublasSetWorkspace_v2(void *handle, void *workspace, size_t bytes) {
    char line[96];
    snprintf(line, sizeof line, "cublasSetWorkspace %p %zu", workspace, bytes);
    note(line);
    return handle == BLAS ? 0 : 7;
}

int cublasSetMathMode(void *handle, int mode) {
    char line[64];
    snprintf(line, sizeof line, "cublasSetMathMode %d", mode);
    note(line);
    return handle == BLAS ? 0 : 7;
}

int cublasSgemm_v2(void *handle, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda, const float *b,
                   int ldb, const float *beta, float *c, int ldc) {
    char line[200];
    snprintf(line, sizeof line, "sgemm %d %d m %d n %d k %d alpha %g A %p lda %d B %p ldb %d beta %g C %p ldc %d", ta, tb, m, n, k,
             *alpha, (void *) a, lda, (void *) b, ldb, *beta, (void *) c, ldc);
    note(line);
    return handle == BLAS && m > 0 && n > 0 ? 0 : 7;
}
