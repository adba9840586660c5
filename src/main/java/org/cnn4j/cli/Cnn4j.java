package org.cnn4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.cnn4j.train.TrainingDivergedException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code cnn4j} command-line application: train, evaluate, predict, describe models, check
 * gradients and list devices. Results go to standard output, logs to standard error.
 */
@Command(name = "cnn4j", mixinStandardHelpOptions = true, version = "cnn4j 0.1.0",
        description = "Trains and runs convolutional image classifiers on the CPU (and, with the CUDA backend, NVIDIA GPUs).",
        subcommands = {TrainCommand.class, EvalCommand.class, PredictCommand.class, SummaryCommand.class, GradcheckCommand.class, BenchCommand.class,
                DevicesCommand.class, CommandLine.HelpCommand.class})
public final class Cnn4j {
    public static void main(String[] args) {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "org/cnn4j/cli/logback.xml");
        }
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code: 0 success, 1 failure (with a one-line reason), 2 bad usage. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Cnn4j());
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            if (isExpected(e)) {
                line.getErr().println("cnn4j: " + e.getMessage());
                return 1;
            }
            throw e;
        });
        return cli.execute(args);
    }

    /** Failures a user can act on from the message alone: bad files, bad settings, divergence. */
    private static boolean isExpected(Exception e) {
        return e instanceof IOException || e instanceof UncheckedIOException || e instanceof IllegalArgumentException
                || e instanceof IllegalStateException || e instanceof TrainingDivergedException;
    }
}
