package org.cnn4j.backend.cpu;

/**
 * Batch normalisation on float arrays, a channel per task: sums in double, the normalisation in
 * float32 with each product and sum rounded on its own (as the PTX kernels of
 * {@code normalization.ptx} do it). Layout (n, c, spatial), row-major.
 */
final class CpuNormalization {
    private CpuNormalization() {
    }

    /** Index of value e (0 ≤ e &lt; n·spatial) of channel ch. */
    private static int at(int e, int ch, int c, int spatial) {
        return (e / spatial * c + ch) * spatial + e % spatial;
    }

    static void training(Parallel parallel, float[] y, float[] saveMean, float[] saveInvStd, float[] x, float[] gamma, float[] beta,
                         float[] runningMean, float[] runningVar, double momentum, double eps, int n, int c, int spatial) {
        int m = n * spatial;
        parallel.forEach(c, ch -> {
            double sum = 0;
            for (int e = 0; e < m; e++) sum += x[at(e, ch, c, spatial)];
            double mean = sum / m, squares = 0;
            for (int e = 0; e < m; e++) {
                double d = x[at(e, ch, c, spatial)] - mean;
                squares += d * d;
            }
            double variance = squares / m;
            float meanF = (float) mean, invStd = (float) (1 / Math.sqrt(variance + eps));
            saveMean[ch] = meanF;
            saveInvStd[ch] = invStd;
            runningMean[ch] = (float) ((1 - momentum) * runningMean[ch] + momentum * mean);
            runningVar[ch] = (float) ((1 - momentum) * runningVar[ch] + momentum * (m > 1 ? variance * m / (m - 1) : variance));
            float scale = gamma[ch] * invStd, shift = beta[ch];
            for (int e = 0; e < m; e++) {
                int i = at(e, ch, c, spatial);
                y[i] = (x[i] - meanF) * scale + shift;
            }
        });
    }

    static void inference(Parallel parallel, float[] y, float[] x, float[] gamma, float[] beta, float[] runningMean, float[] runningVar,
                          double eps, int n, int c, int spatial) {
        float epsF = (float) eps;
        parallel.forEach(c, ch -> {
            float invStd = 1f / (float) Math.sqrt(runningVar[ch] + epsF), scale = gamma[ch] * invStd, mean = runningMean[ch], shift = beta[ch];
            for (int e = 0; e < n * spatial; e++) {
                int i = at(e, ch, c, spatial);
                y[i] = (x[i] - mean) * scale + shift;
            }
        });
    }

    static void backward(Parallel parallel, float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, float[] gamma,
                         float[] saveMean, float[] saveInvStd, int n, int c, int spatial) {
        int m = n * spatial;
        parallel.forEach(c, ch -> {
            float mean = saveMean[ch], invStd = saveInvStd[ch];
            double sumDy = 0, sumDyXhat = 0;
            for (int e = 0; e < m; e++) {
                int i = at(e, ch, c, spatial);
                float xhat = (x[i] - mean) * invStd;
                sumDy += dy[i];
                sumDyXhat += (double) dy[i] * xhat;
            }
            dgamma[ch] += (float) sumDyXhat;
            dbeta[ch] += (float) sumDy;
            float a = (float) (sumDy / m), b = (float) (sumDyXhat / m), k = gamma[ch] * invStd;
            for (int e = 0; e < m; e++) {
                int i = at(e, ch, c, spatial);
                float xhat = (x[i] - mean) * invStd;
                dx[i] = k * (dy[i] - a - xhat * b);
            }
        });
    }
}
