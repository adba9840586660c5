package org.cnn4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;

import org.cnn4j.train.TrainingDivergedException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;

/**
 * The {@code cnn4j} command-line application: train, evaluate, predict, describe models, check
 * gradients and list devices. Results go to standard output, logs to standard error.
 *
 * <p>Whatever the input, a command ends with an exit code and, on failure, one line on standard
 * error that names the problem: 1 for a failure (a bad file, divergence, a missing GPU, and
 * anything unforeseen, then with its kind), 2 for bad usage (an unknown option, a value out of
 * its range). {@code --debug} adds the stack trace.
 */
@Command(name = "cnn4j", mixinStandardHelpOptions = true, version = "cnn4j 0.1.0",
        description = "Trains and runs convolutional image classifiers on the CPU (and, with the CUDA backend, NVIDIA GPUs).",
        subcommands = {TrainCommand.class, EvalCommand.class, PredictCommand.class, SummaryCommand.class, ExportCommand.class, GradcheckCommand.class, BenchCommand.class,
                DevicesCommand.class, CommandLine.HelpCommand.class})
public final class Cnn4j {
    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "On failure, print the stack trace too.")
    boolean debug;

    public static void main(String[] args) {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "org/cnn4j/cli/logback.xml");
        }
        System.exit(run(args));
    }

    /** Runs a command line and returns the exit code: 0 success, 1 failure (with a one-line reason), 2 bad usage. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Cnn4j());
        cli.setParameterExceptionHandler((e, line) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println(name(e.getCommandLine()) + ": " + e.getMessage() + " (see '" + name(e.getCommandLine()) + " --help')");
            if (debug(e.getCommandLine().getParseResult())) e.printStackTrace(err);
            return 2;
        });
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            PrintWriter err = line.getErr();
            err.println(name(line) + ": " + describe(e));
            if (debug(parsed)) e.printStackTrace(err);
            return e instanceof Checks.BadOption ? 2 : 1;
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError | StackOverflowError e) {
            cli.getErr().println("cnn4j: " + (e instanceof OutOfMemoryError
                    ? "out of memory (" + e.getMessage() + "): lower --batch, or give Java more memory (-Xmx)"
                    : "stack overflow: " + e));
            if (java.util.Arrays.asList(args).contains("--debug")) e.printStackTrace(cli.getErr());
            return 1;
        }
    }

    /** The message of a failure a user can act on (a bad file, bad settings, divergence), else its kind and message. */
    private static String describe(Exception e) {
        String message = e.getMessage() != null && !e.getMessage().isBlank() ? e.getMessage() : null;
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() == null) message = f.getMessage() + ": " + reason(f);
        boolean expected = e instanceof IOException || e instanceof UncheckedIOException || e instanceof IllegalArgumentException
                || e instanceof IllegalStateException || e instanceof TrainingDivergedException;
        if (expected && message != null) return message.lines().findFirst().orElse(message);
        return "internal error, " + e.getClass().getName() + (message != null ? ": " + message : "")
                + " (please report it; --debug prints the stack trace)";
    }

    /** What went wrong with a file, where Java's exception gives only the file's name. */
    private static String reason(java.nio.file.FileSystemException f) {
        return switch (f) {
            case java.nio.file.NoSuchFileException x -> "no such file or directory";
            case java.nio.file.AccessDeniedException x -> "permission denied";
            case java.nio.file.NotDirectoryException x -> "not a directory";
            case java.nio.file.FileAlreadyExistsException x -> "already exists";
            case java.nio.file.DirectoryNotEmptyException x -> "directory not empty";
            default -> "cannot be used (" + f.getClass().getSimpleName() + ")";
        };
    }

    private static String name(CommandLine line) {
        return line.getCommandSpec().qualifiedName();
    }

    private static boolean debug(ParseResult parsed) {
        for (ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--debug")) return true;
        }
        return false;
    }
}
