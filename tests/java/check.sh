#!/usr/bin/env bash
# check.sh OUTDIR: build the Java example of docs/consumers.md with Maven
# (Apache Avro 1.11 and kafka-clients from Maven Central) into OUTDIR, and
# check that the code in the doc is the code that was compiled. Prints the
# classpath to run it with: java -cp "$(tests/java/check.sh OUT)" ReadTopic ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
out=${1:?usage: check.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
doc=$here/../../docs/consumers.md
src=$here/src/main/java/ReadTopic.java

# the ```java block that starts with "import java.net.URI;" is the file
awk '/^```java$/ { inblk = 1; n = 0; next }
     /^```$/ && inblk { inblk = 0; if (first == "import java.net.URI;") exit; next }
     inblk { if (n++ == 0) { first = $0; delete lines; cnt = 0 } lines[++cnt] = $0 }
     END { if (first == "import java.net.URI;") for (i = 1; i <= cnt; i++) print lines[i] }' \
        "$doc" >"$out/ReadTopic.from-doc.java"
if ! diff -u "$src" "$out/ReadTopic.from-doc.java" >&2; then
        echo "check.sh: the Java example in docs/consumers.md differs from $src" >&2
        exit 1
fi

command -v "${MVN:-mvn}" >/dev/null || { echo "check.sh: maven not found" >&2; exit 1; }
"${MVN:-mvn}" -B -q -f "$here/pom.xml" -Dpb.build.dir="$out" compile dependency:build-classpath \
        -Dmdep.outputFile="$out/classpath.txt" >"$out/mvn.log" 2>&1 ||
        { tail -n 40 "$out/mvn.log" >&2; echo "check.sh: maven build failed" >&2; exit 1; }
echo "$out/classes:$(cat "$out/classpath.txt")"
