package org.cnn4j.backend.cpu;

/**
 * Batch normalisation on float arrays, a channel per task: sums in double, the normalisation in
 * float32 with each product and sum rounded on its own (as the PTX kernels of
 * {@code normalization.ptx} do it). Layout (n, c, spatial), row-major: channel ch of sample s is the
 * contiguous plane starting at {@code (s·c + ch)·spatial}; its values are visited sample by
 * sample, in order, the same order as the kernels' index e = s·spatial + position.
 */
final class CpuNormalization {
    private CpuNormalization() {
    }

    static void training(Parallel parallel, float[] y, float[] saveMean, float[] saveInvStd, float[] x, float[] gamma, float[] beta,
                         float[] runningMean, float[] runningVar, double momentum, double eps, int n, int c, int spatial) {
        int m = n * spatial;
        parallel.forEach(c, ch -> {
            double sum = 0;
            for (int s = 0, base = ch * spatial; s < n; s++, base += c * spatial) {
                for (int i = base; i < base + spatial; i++) sum += x[i];
            }
            double mean = sum / m, squares = 0;
            for (int s = 0, base = ch * spatial; s < n; s++, base += c * spatial) {
                for (int i = base; i < base + spatial; i++) {
                    double d = x[i] - mean;
                    squares += d * d;
                }
            }
            double variance = squares / m;
            float meanF = (float) mean, invStd = (float) (1 / Math.sqrt(variance + eps));
            saveMean[ch] = meanF;
            saveInvStd[ch] = invStd;
            runningMean[ch] = (float) ((1 - momentum) * runningMean[ch] + momentum * mean);
            runningVar[ch] = (float) ((1 - momentum) * runningVar[ch] + momentum * (m > 1 ? variance * m / (m - 1) : variance));
            float scale = gamma[ch] * invStd, shift = beta[ch];
            for (int s = 0, base = ch * spatial; s < n; s++, base += c * spatial) {
                for (int i = base; i < base + spatial; i++) y[i] = (x[i] - meanF) * scale + shift;
            }
        });
    }

    static void inference(Parallel parallel, float[] y, float[] x, float[] gamma, float[] beta, float[] runningMean, float[] runningVar,
                          double eps, int n, int c, int spatial) {
        float epsF = (float) eps;
        parallel.forEach(c, ch -> {
            float invStd = 1f / (float) Math.sqrt(runningVar[ch] + epsF), scale = gamma[ch] * invStd, mean = runningMean[ch], shift = beta[ch];
            for (int s = 0, base = ch * spatial; s < n; s++, base += c * spatial) {
                for (int i = base; i < base + spatial; i++) y[i] = (x[i] - mean) * scale + shift;
            }
        });
    }

    static void backward(Parallel parallel, float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, float[] gamma,
                         float[] saveMean, float[] saveInvStd, int n, int c, int spatial) {
        int m = n * spatial;
        parallel.forEach(c, ch -> {
            float mean = saveMean[ch], invStd = saveInvStd[ch];
            double sumDy = 0, sumDyXhat = 0;
            for (int s = 0, base = ch * spatial; s < n; s++, base += c * spatial) {
                for (int i = base; i < base + spatial; i++) {
                    float xhat = (x[i] - mean) * invStd;
                    sumDy += dy[i];
                    sumDyXhat += (double) dy[i] * xhat;
                }
            }
            dgamma[ch] += (float) sumDyXhat;
            dbeta[ch] += (float) sumDy;
            float a = (float) (sumDy / m), b = (float) (sumDyXhat / m), k = gamma[ch] * invStd;
            for (int s = 0, base = ch * spatial; s < n; s++, base += c * spatial) {
                for (int i = base; i < base + spatial; i++) {
                    float xhat = (x[i] - mean) * invStd;
                    dx[i] = k * (dy[i] - a - xhat * b);
                }
            }
        });
    }
}
