package org.cnn4j.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The library as a user gets it: {@code mvn install} puts cnn4j-core into the local Maven
 * repository, and a separate Maven project under {@code target/} that depends on it alone trains a
 * model, saves it and predicts with {@code Classifier}, with none of the application's
 * dependencies (picocli, progress bars, charts, Logback) on its classpath. A module that reads
 * {@code org.cnn4j} compiles and runs against the same jars on the module path, and one that
 * reaches into a package the module does not export is refused by the compiler.
 */
class SeparateProjectTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path WORK = Path.of("target", "separate-project").toAbsolutePath();
    private static final String VERSION = System.getProperty("cnn4j.version");
    private static final String JAVA_HOME = System.getProperty("java.home");
    /** The application's dependencies, none of which a program that uses the library may inherit. */
    private static final List<String> APPLICATION_ONLY = List.of("picocli", "progressbar", "xchart", "logback", "jline", "cnn4j-app");

    private static final String MAIN = """
            package example;

            import java.awt.image.BufferedImage;
            import java.nio.file.Path;
            import java.util.List;

            import org.cnn4j.backend.cpu.CpuBackend;
            import org.cnn4j.data.DataInfo;
            import org.cnn4j.data.Dataset;
            import org.cnn4j.data.SyntheticShapes;
            import org.cnn4j.io.ModelFile;
            import org.cnn4j.model.Classifier;
            import org.cnn4j.model.Model;
            import org.cnn4j.model.Models;
            import org.cnn4j.optim.Sgd;
            import org.cnn4j.train.EpochMetrics;
            import org.cnn4j.train.Trainer;

            public class Main {
                public static void main(String[] args) throws Exception {
                    Path file = Path.of(args[0]);
                    Dataset train = SyntheticShapes.generate(2048, 28, 10, 1), test = SyntheticShapes.generate(200, 28, 10, 2);
                    try (CpuBackend cpu = new CpuBackend(); Model model = Models.fmnistCnn().seed(7).build(cpu)) {
                        Trainer trainer = new Trainer(model, new Sgd(0.05).momentum(0.9), Trainer.Options.of(2, 64).seed(7));
                        List<EpochMetrics> history = trainer.fit(train, test);
                        System.out.println("accuracy " + history.getLast().testAccuracy());
                        ModelFile.save(file, model, DataInfo.of(train));
                    }
                    try (Classifier classifier = Classifier.load(file)) {
                        int right = 0;
                        for (int i = 0; i < test.size(); i++) {
                            BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                            image.getRaster().setDataElements(0, 0, 28, 28, test.pixels(i));
                            if (classifier.predict(image, 1).getFirst().index() == test.label(i)) right++;
                        }
                        System.out.println("classifier " + right + "/" + test.size());
                    }
                    for (String c : List.of("picocli.CommandLine", "ch.qos.logback.classic.Logger", "org.knowm.xchart.XYChart", "org.cnn4j.cli.Cnn4j")) {
                        try {
                            Class.forName(c);
                            System.out.println("present " + c);
                        } catch (ClassNotFoundException e) {
                            System.out.println("absent " + c);
                        }
                    }
                }
            }
            """;

    @BeforeAll
    static void installTheCore() throws IOException, InterruptedException {
        assertTrue(VERSION != null && !VERSION.isEmpty(), "the build passes cnn4j.version");
        assumeTrue(Files.isRegularFile(ROOT.resolve("core/pom.xml")) && Files.isExecutable(Path.of(JAVA_HOME, "bin", "javac")) && onPath("mvn"),
                "needs the source tree, a JDK and Maven (absent in the GPU bundle)");
        // What a user runs: install the parent and the core (not the application) into the local repository.
        run(ROOT, 600, mvn("-DskipTests", "-pl", "core", "-am", "install"));
    }

    @Test
    void aProjectThatDependsOnTheCoreTrainsAndPredicts() throws IOException, InterruptedException {
        Path project = WORK.resolve("maven");
        Files.createDirectories(project.resolve("src/main/java/example"));
        Files.writeString(project.resolve("src/main/java/example/Main.java"), MAIN);
        Files.writeString(project.resolve("pom.xml"), pom("uses-cnn4j", "jar", """
                  <properties>
                    <maven.compiler.release>22</maven.compiler.release>
                    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
                  </properties>
                  <build>
                    <plugins>
                      <plugin>
                        <groupId>org.apache.maven.plugins</groupId>
                        <artifactId>maven-compiler-plugin</artifactId>
                        <version>3.14.0</version>
                      </plugin>
                    </plugins>
                  </build>
                """));
        run(project, 300, mvn("compile", "dependency:build-classpath", "-DincludeScope=runtime", "-Dmdep.outputFile=classpath.txt"));
        String classpath = Files.readString(project.resolve("classpath.txt")).strip();
        for (String jar : classpath.split(File.pathSeparator)) {
            for (String app : APPLICATION_ONLY) assertFalse(Path.of(jar).getFileName().toString().startsWith(app), "the application's " + jar + " is on the classpath");
        }
        assertTrue(classpath.contains("cnn4j-core-" + VERSION + ".jar"), classpath);
        assertTrue(classpath.contains(".m2") || classpath.contains("repository"), "the installed artifact: " + classpath);

        String out = run(project, 300, List.of(JAVA_HOME + "/bin/java", "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                "-cp", project.resolve("target/classes") + File.pathSeparator + classpath, "example.Main", project.resolve("model.safetensors").toString()));
        assertTrainedAndPredicted(out);
        for (String c : List.of("picocli.CommandLine", "ch.qos.logback.classic.Logger", "org.knowm.xchart.XYChart", "org.cnn4j.cli.Cnn4j")) {
            assertTrue(out.contains("absent " + c), out);
        }
    }

    @Test
    void theModuleExportsTheApiAndHidesTheRest() throws IOException, InterruptedException {
        Path project = WORK.resolve("module");
        Path classpathFile = project.resolve("classpath.txt");
        Files.createDirectories(project);
        // The core's runtime dependencies from its installed POM, as a module path.
        Files.writeString(project.resolve("pom.xml"), pom("module-path", "pom", ""));
        run(project, 300, mvn("dependency:build-classpath", "-DincludeScope=runtime", "-Dmdep.outputFile=" + classpathFile));
        String modulePath = Files.readString(classpathFile).strip();

        Path good = project.resolve("good"), bad = project.resolve("bad");
        writeModule(good, MAIN);
        writeModule(bad, "package example;\npublic class Main { Class<?> c = org.cnn4j.bench.TrainStepBenchmark.class; }\n");
        run(project, 300, List.of(JAVA_HOME + "/bin/javac", "--module-path", modulePath, "-d", good.resolve("classes").toString(),
                good.resolve("module-info.java").toString(), good.resolve("example/Main.java").toString()));
        String refused = runExpectingFailure(project, List.of(JAVA_HOME + "/bin/javac", "--module-path", modulePath, "-d", bad.resolve("classes").toString(),
                bad.resolve("module-info.java").toString(), bad.resolve("example/Main.java").toString()));
        assertTrue(refused.contains("package org.cnn4j.bench is declared in module org.cnn4j, which does not export it"), refused);

        String out = run(project, 300, List.of(JAVA_HOME + "/bin/java", "--enable-native-access=org.cnn4j", "--module-path",
                good.resolve("classes") + File.pathSeparator + modulePath, "-m", "example/example.Main", project.resolve("model.safetensors").toString()));
        assertTrainedAndPredicted(out);
    }

    private static void assertTrainedAndPredicted(String out) {
        double accuracy = Double.parseDouble(out.replaceAll("(?s).*accuracy ([0-9.]+).*", "$1"));
        int right = Integer.parseInt(out.replaceAll("(?s).*classifier (\\d+)/200.*", "$1"));
        assertTrue(accuracy > 0.8, "two epochs on the generated shapes learn: " + out);
        assertEquals(accuracy * 200, right, 1, "Classifier, reading images with the model file's preprocessing, predicts as the trainer's evaluation: " + out);
    }

    /** A project's POM that depends on the installed cnn4j-core alone, with {@code more} (properties, build) inside. */
    private static String pom(String artifactId, String packaging, String more) {
        return """
                <?xml version="1.0" encoding="UTF-8"?>
                <project xmlns="http://maven.apache.org/POM/4.0.0">
                  <modelVersion>4.0.0</modelVersion>
                  <groupId>example</groupId>
                  <artifactId>%s</artifactId>
                  <version>1</version>
                  <packaging>%s</packaging>
                  <dependencies>
                    <dependency><groupId>org.cnn4j</groupId><artifactId>cnn4j-core</artifactId><version>%s</version></dependency>
                  </dependencies>
                %s</project>
                """.formatted(artifactId, packaging, VERSION, more);
    }

    private static void writeModule(Path dir, String main) throws IOException {
        Files.createDirectories(dir.resolve("example"));
        Files.writeString(dir.resolve("module-info.java"), "module example {\n    requires org.cnn4j;\n}\n");
        Files.writeString(dir.resolve("example/Main.java"), main);
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) return true;
        }
        return false;
    }

    private static List<String> mvn(String... args) {
        List<String> command = new ArrayList<>(List.of("mvn", "-B", "-q", "-ntp"));
        command.addAll(List.of(args));
        return command;
    }

    /** Runs a command to its end within {@code seconds}, and returns its output; a failure names the command and shows the output. */
    private static String run(Path dir, int seconds, List<String> command) throws IOException, InterruptedException {
        Result r = execute(dir, seconds, command);
        assertEquals(0, r.code(), String.join(" ", command) + " in " + dir + ":\n" + r.output());
        return r.output();
    }

    private static String runExpectingFailure(Path dir, List<String> command) throws IOException, InterruptedException {
        Result r = execute(dir, 300, command);
        assertFalse(r.code() == 0, String.join(" ", command) + " should fail:\n" + r.output());
        return r.output();
    }

    private record Result(int code, String output) {
    }

    private static Result execute(Path dir, int seconds, List<String> command) throws IOException, InterruptedException {
        Path log = Files.createTempFile("command", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("JAVA_HOME", JAVA_HOME);
            Process p = pb.start();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " ran past " + seconds + " s:\n" + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
