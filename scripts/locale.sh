# Sourced by the launchers (scripts/cnn4j, and the bundle's bin/*, which carry a copy as
# lib/locale.sh). Java decodes file names with the charset of the locale it starts in: under the
# POSIX locale (no LANG, as in many containers and cron jobs) an accented class folder name reads
# as U+FFFD. Where the locale's charset is not UTF-8, switch to C.UTF-8 when this system has it
# (glibc has it built in since 2.35; Debian and Ubuntu ship it).
cnn4j_utf8_locale() {
    case "$(locale charmap 2>/dev/null)" in UTF-8 | utf-8 | utf8) return 0 ;; esac
    if [ "$(LC_ALL=C.UTF-8 locale charmap 2>/dev/null)" = UTF-8 ]; then export LC_ALL=C.UTF-8; fi
}
