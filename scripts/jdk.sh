# Sourced by the scripts: finds a JDK >= 22 (JAVA_HOME first, then /usr/lib/jvm/*, newest first)
# and exports JAVA_HOME, or stops with a message that says what was looked at.

cnn4j_java_major() {
    # Prints the major version of the java at $1/bin/java, or nothing.
    local v
    v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
    echo "${v%%.*}"
}

cnn4j_find_jdk() {
    local tried=() candidate major
    for candidate in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/* 2>/dev/null | sort -rV); do
        [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
        major=$(cnn4j_java_major "$candidate")
        tried+=("$candidate (Java ${major:-unknown})")
        if [ -n "$major" ] && [ "$major" -ge 22 ]; then
            export JAVA_HOME="$candidate"
            # Maven 3.8 on JDK 24+ warns about sun.misc.Unsafe on every run; allow it quietly.
            if [ "$major" -ge 24 ]; then
                export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
            fi
            return 0
        fi
    done
    echo "cnn4j needs a JDK 22 or newer (it uses java.lang.foreign)." >&2
    if [ ${#tried[@]} -eq 0 ]; then
        echo "No JDK found in JAVA_HOME or under /usr/lib/jvm." >&2
    else
        echo "Found only:" >&2
        printf '  %s\n' "${tried[@]}" >&2
    fi
    echo "Install one (for example Temurin 25) and set JAVA_HOME to it." >&2
    return 1
}

cnn4j_build() {
    # Run in the project's root: builds the application's jar (app/) and the library's (core/) with
    # the application's runtime classpath when a source, a kernel or a pom is newer than the jar (or
    # there is none), then sets CNN4J_CLASSPATH (absolute paths). Needs JAVA_HOME (cnn4j_find_jdk)
    # and Maven.
    local jar
    jar=$(ls app/target/cnn4j-app-*.jar 2>/dev/null | grep -v -- '-tests\.jar$' | head -1 || true)
    if [ -z "$jar" ] || [ ! -f app/target/runtime-classpath.txt ] \
        || [ -n "$(find pom.xml core/pom.xml app/pom.xml core/src/main app/src/main native-kernels -newer "$jar" -print -quit)" ]; then
        if ! command -v mvn >/dev/null; then
            echo "cnn4j: Maven (mvn) is needed to build cnn4j; install it (e.g. apt-get install maven)." >&2
            return 1
        fi
        echo "Building cnn4j (first run, or the sources changed)..." >&2
        # One reactor run, so that the application's classpath names core/target's jar.
        mvn -B -q -ntp -DskipTests package dependency:build-classpath -DincludeScope=runtime \
            -Dmdep.outputFile=target/runtime-classpath.txt >&2
        jar=$(ls app/target/cnn4j-app-*.jar | grep -v -- '-tests\.jar$' | head -1)
    fi
    CNN4J_CLASSPATH="$PWD/$jar:$(cat app/target/runtime-classpath.txt)"
}

cnn4j_build_benchmarks() {
    # Like cnn4j_build, and also compiles the test trees, where the benchmark harnesses that are no
    # part of the library live (org.cnn4j.bench.BenchmarkSuite in app/, ConvLayoutBenchmark in
    # core/): sets CNN4J_CLASSPATH to the jar, its runtime dependencies and both test-classes.
    cnn4j_build || return 1
    if [ ! -d app/target/test-classes ] \
        || [ -n "$(find core/src/test/java app/src/test/java -newer app/target/test-classes -print -quit)" ]; then
        mvn -B -q -ntp -DskipTests test-compile >&2
        touch app/target/test-classes
    fi
    CNN4J_CLASSPATH="$CNN4J_CLASSPATH:$PWD/core/target/test-classes:$PWD/app/target/test-classes"
}
