package org.cnn4j.distributed;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import org.cnn4j.backend.cpu.CpuBackend;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Models;
import org.cnn4j.optim.Sgd;
import org.cnn4j.train.Trainer;
import org.cnn4j.train.TrainingListener;

/**
 * Run by {@link MpiTest} under {@code mpirun}, with collectives that time out after 3 s. With
 * {@code die} or {@code hang}: after one all-reduce, rank 1 dies (halts at once, as a crash) or
 * hangs (sleeps for ten minutes), while rank 0 goes on to the next all-reduce. With {@code
 * train-die} or {@code train-hang} and a checkpoint path: the two train fmnist-cnn for three
 * epochs through {@link Trainer#distributed}, rank 0 checkpointing after each, and rank 1 dies or
 * hangs in the middle of the second epoch.
 */
public final class FaultProbe {
    private FaultProbe() {
    }

    public static void main(String[] args) throws InterruptedException, IOException {
        try (Mpi mpi = Mpi.start(Duration.ofSeconds(3))) {
            if (args[0].startsWith("train-")) {
                train(mpi, args[0].equals("train-die"), Path.of(args[1]));
            } else {
                mpi.allReduceSum(new float[] {1});
                if (mpi.rank() == 1) fail(args[0].equals("die"));
                mpi.allReduceSum(new float[] {2});
            }
            System.out.println("rank " + mpi.rank() + " was not stopped");
        }
    }

    private static void fail(boolean die) {
        if (die) Runtime.getRuntime().halt(9);
        try {
            Thread.sleep(Duration.ofMinutes(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void train(Mpi mpi, boolean die, Path checkpoint) throws IOException {
        try (CpuBackend cpu = new CpuBackend(1); Graph model = Models.fmnistCnn().seed(11).build(cpu)) {
            Trainer trainer = new Trainer(model, new Sgd(0.05).momentum(0.9), Trainer.Options.of(3, 16).seed(7)).distributed(mpi)
                    .checkpointTo(checkpoint);
            trainer.listener(new TrainingListener() {
                @Override
                public void stepDone(Step step) {
                    if (mpi.rank() == 1 && step.epoch() == 2 && step.batch() >= step.batches() / 2) fail(die);
                }

                @Override
                public void epochDone(org.cnn4j.train.EpochMetrics metrics, org.cnn4j.train.Evaluation test, Trainer t) {
                    System.out.println("rank " + mpi.rank() + " finished epoch " + metrics.epoch());
                }
            });
            trainer.fit(org.cnn4j.data.SyntheticShapes.generate(640, 28, 10, 5), null);
        }
    }
}
