#!/usr/bin/env bash
# Kafka's command-line tools (kafka-topics, kafka-console-producer, kafka-console-consumer,
# kafka-acls ...) from the jars deploy/kafka/kafka.sh fetches (pom.xml: the broker and
# kafka-tools, same version), without a Kafka distribution: NAME is the script's name without
# "kafka-" and ".sh", and the arguments are the script's.
#
# Usage: deploy/kafka/kafka-tool.sh NAME [ARGS...]
#        deploy/kafka/kafka-tool.sh --list      the names and the class each runs
#   e.g. deploy/kafka/kafka-tool.sh topics --bootstrap-server 127.0.0.1:9092 --list
#        NAME may also be kafka-topics, kafka-topics.sh, or a fully qualified class name.
#
# Environment:
#   FUNDWATCH_KAFKA_HOME       where kafka.sh keeps the jars, default <repo root>/.kafka
#   FUNDWATCH_KAFKA_TOOL_HEAP  JVM heap options, default "-Xmx256m"
# The jars are fetched first if they are missing (needs Maven once, as for kafka.sh).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
KAFKA_HOME=$(realpath -m -- "${FUNDWATCH_KAFKA_HOME:-$REPO_ROOT/.kafka}")
LIBS=$KAFKA_HOME/libs
HEAP=${FUNDWATCH_KAFKA_TOOL_HEAP:--Xmx256m}

# name -> main class, as in Kafka 4.1's bin/*.sh
TOOLS=(
    "acls org.apache.kafka.tools.AclCommand"
    "broker-api-versions org.apache.kafka.tools.BrokerApiVersionsCommand"
    "configs kafka.admin.ConfigCommand"
    "console-consumer org.apache.kafka.tools.consumer.ConsoleConsumer"
    "console-producer org.apache.kafka.tools.ConsoleProducer"
    "consumer-groups org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
    "delete-records org.apache.kafka.tools.DeleteRecordsCommand"
    "get-offsets org.apache.kafka.tools.GetOffsetShell"
    "log-dirs org.apache.kafka.tools.LogDirsCommand"
    "metadata-quorum org.apache.kafka.tools.MetadataQuorumCommand"
    "topics org.apache.kafka.tools.TopicCommand"
    "transactions org.apache.kafka.tools.TransactionsCommand"
)

die() {
    local code=$1
    shift
    printf 'kafka-tool.sh: %s\n' "$@" >&2
    exit "$code"
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

main_class() {
    local name=$1 entry
    name=${name#kafka-}
    name=${name%.sh}
    for entry in "${TOOLS[@]}"; do
        if [[ ${entry%% *} == "$name" ]]; then
            printf '%s\n' "${entry#* }"
            return 0
        fi
    done
    # A class name: org.apache.kafka.tools.ClusterTool and the like.
    [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_$]*)+$ ]] && printf '%s\n' "$1" && return 0
    return 1
}

case ${1:-} in
"" | -h | --help | help)
    usage
    exit 0
    ;;
--list)
    printf '%s\n' "${TOOLS[@]}"
    exit 0
    ;;
esac

class=$(main_class "$1") ||
    die 64 "unknown tool '$1'; known: $(printf '%s ' "${TOOLS[@]%% *}")(or a class name)"
shift

version=$(sed -n 's:.*<kafka\.version>[[:space:]]*\([^<[:space:]]*\)[[:space:]]*</kafka\.version>.*:\1:p' "$SCRIPT_DIR/pom.xml" | head -n1)
if [[ ! -f $LIBS/kafka-tools-$version.jar ]]; then
    # kafka.sh's own fetch (and its checks); its messages go to stderr, stdout is the tool's.
    FUNDWATCH_KAFKA_HOME=$KAFKA_HOME bash "$SCRIPT_DIR/kafka.sh" fetch >&2
fi
command -v java >/dev/null 2>&1 || die 2 "java not found; Kafka's tools need Java 17 or newer"

# shellcheck disable=SC2086  # HEAP is several options on purpose
exec java $HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="file:$SCRIPT_DIR/tools-log4j2.properties" \
    -cp "$LIBS/*" "$class" "$@"
