package org.cnn4j.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.cnn4j.backend.Backend;
import org.cnn4j.backend.Devices;
import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.backend.cuda.CudaBackend;

/**
 * cnn4j's half of benchmarks/run: every built-in model at its benchmark batch, on the CPU and on
 * the GPU when one is usable (in TF32 and in strict float32), timed by {@link TrainStepBenchmark},
 * written as CSV rows {@code implementation,device,model,batch,mode,ms_per_step,images_per_second,peak_mib} (the
 * peak device memory of the training step on a GPU; empty otherwise). Modes: {@code train} (the step
 * on a batch already on the device), {@code fed} (each step's batch written from host memory
 * first, as in training) and {@code infer}.
 *
 * <p>Usage: {@code BenchmarkSuite OUT.csv [windows] [steps] [model:batch,...] [devices]}, by default
 * {@code 5 5 fmnist-cnn:256,vgg-small:128,lenet5:256 cpu,gpu}.
 */
public final class BenchmarkSuite {
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        int windows = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        String models = args.length > 3 ? args[3] : "fmnist-cnn:256,vgg-small:128,lenet5:256";
        List<String> devices = List.of((args.length > 4 ? args[4] : "cpu,gpu").split(","));
        for (String d : devices) {
            if (!d.equals("cpu") && !d.equals("gpu")) throw new IllegalArgumentException("unknown device '" + d + "': cpu or gpu");
        }
        List<String> rows = new ArrayList<>(List.of("implementation,device,model,batch,mode,ms_per_step,images_per_second,peak_mib"));
        List<Backend> backends = new ArrayList<>();
        if (devices.contains("cpu")) {
            backends.add(new CpuBackend(Runtime.getRuntime().availableProcessors()));
            System.out.println("cpu kernels: " + CpuBackend.kernels());
        }
        if (devices.contains("gpu")) {
            try {
                backends.add(CudaBackend.open(CudaBackend.Options.defaults()));
                backends.add(CudaBackend.open(CudaBackend.Options.defaults().strictFloat32()));
            } catch (LinkageError | RuntimeException e) {
                System.out.println("GPU half skipped: " + Devices.reason(e));
            }
        }
        try {
            for (Backend backend : backends) {
                String device = backend instanceof CudaBackend gpu ? backend.name() + (gpu.options().tf32() ? " TF32" : " FP32") : backend.name();
                for (String spec : models.split(",")) {
                    String[] parts = spec.split(":");
                    TrainStepBenchmark.Result r = TrainStepBenchmark.measure(parts[0], Integer.parseInt(parts[1]), windows, steps, backend);
                    rows.add(row(device, r, "train", r.trainSeconds(), r.peakBytes()));
                    rows.add(row(device, r, "fed", r.fedSeconds(), -1));
                    rows.add(row(device, r, "infer", r.inferSeconds(), -1));
                    System.out.println(rows.get(rows.size() - 2) + (r.graphReplays() > 0 ? "  (replayed as a CUDA graph)" : "") + "\n"
                            + rows.get(rows.size() - 1));
                }
            }
        } finally {
            for (Backend b : backends) b.close();
        }
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out))) {
            rows.forEach(w::println);
        }
    }

    private static String row(String device, TrainStepBenchmark.Result r, String mode, double seconds, long peakBytes) {
        return String.format(Locale.ROOT, "cnn4j,%s,%s,%d,%s,%.3f,%.1f,%s", device.replace(',', ';'), r.model(), r.batch(), mode, seconds * 1e3,
                r.batch() / seconds, peakBytes < 0 ? "" : String.format(Locale.ROOT, "%.1f", peakBytes / 1048576.0));
    }
}
