#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for fundwatch
# development and tests, without Docker: the broker jars come from Maven Central
# (deploy/kafka/pom.xml) and run on the local JDK 17+.
#
# Usage: deploy/kafka/kafka.sh {fetch|start|stop|status|reset}
#
# Environment:
#   FUNDWATCH_KAFKA_PORT     client (PLAINTEXT) port, default 9092. The KRaft controller
#                            listens on port+1000 (9092 -> 10092).
#   FUNDWATCH_KAFKA_HOME     jars and per-port run dirs, default <repo root>/.kafka
#   FUNDWATCH_KAFKA_HEAP     JVM heap options, default "-Xms256m -Xmx1g"
#   FUNDWATCH_KAFKA_TIMEOUT  seconds `start` waits for the broker to answer, default 90
#   FUNDWATCH_KAFKA_AUTO_CREATE_TOPICS  auto.create.topics.enable, default false (the app
#                            creates its topics: Faust topics need internal=True for that)
#   FUNDWATCH_KAFKA_SECURITY plaintext (default) or sasl_ssl: SCRAM-SHA-512 logins over TLS on
#                            the client port, TLS with client certificates on the controller
#                            port, and Kafka's StandardAuthorizer (server.sasl_ssl.properties.in).
#                            A data dir is formatted for one mode: `reset` to change it.
#   FUNDWATCH_KAFKA_SECRETS  sasl_ssl: CA, broker key store and passwords, default
#                            <run dir>/secrets, made on the first start by
#                            deploy/security/make-local-secrets.sh (throwaway, local only).
#                            Every user with a file in <secrets>/passwords is created at format
#                            time; <secrets>/clients/<user>.properties is its client config.
#   FUNDWATCH_KAFKA_POLICY   sasl_ssl: the access policy whose users get local passwords,
#                            default deploy/security/policy.toml
#   PYTHON                   interpreter with kafka-python for the readiness probe,
#                            default python3
#
# Layout:
#   $FUNDWATCH_KAFKA_HOME/libs/               broker and command-line tool jars (+ .fetched
#                                             marker holding the Kafka version)
#   $FUNDWATCH_KAFKA_HOME/run-<port>/         server.properties, broker.pid
#   $FUNDWATCH_KAFKA_HOME/run-<port>/data/    KRaft metadata + topic data (`reset` deletes it)
#   $FUNDWATCH_KAFKA_HOME/run-<port>/logs/    server.log (log4j2), broker.out (JVM stdout/stderr)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)

KAFKA_HOME=${FUNDWATCH_KAFKA_HOME:-$REPO_ROOT/.kafka}
PORT=${FUNDWATCH_KAFKA_PORT:-9092}
HEAP=${FUNDWATCH_KAFKA_HEAP:--Xms256m -Xmx1g}
TIMEOUT=${FUNDWATCH_KAFKA_TIMEOUT:-90}
PYTHON=${PYTHON:-python3}
AUTO_CREATE=${FUNDWATCH_KAFKA_AUTO_CREATE_TOPICS:-false}
SECURITY=${FUNDWATCH_KAFKA_SECURITY:-plaintext}
HOST=127.0.0.1

POM=$SCRIPT_DIR/pom.xml
TEMPLATE=$SCRIPT_DIR/server.properties.in
SECURE_TEMPLATE=$SCRIPT_DIR/server.sasl_ssl.properties.in
SECRETS_SCRIPT=$REPO_ROOT/deploy/security/make-local-secrets.sh
LOG4J_CONF=$SCRIPT_DIR/log4j2.properties

die() {
    local code=$1
    shift
    printf 'kafka.sh: %s\n' "$@" >&2
    exit "$code"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# Elapsed seconds since $1 (an $EPOCHREALTIME value), one decimal.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

if ! is_uint "$PORT" || ((PORT < 1 || PORT > 64535)); then
    die 2 "FUNDWATCH_KAFKA_PORT must be a port number in 1..64535 (the controller uses port+1000), got '$PORT'"
fi
is_uint "$TIMEOUT" || die 2 "FUNDWATCH_KAFKA_TIMEOUT must be a number of seconds, got '$TIMEOUT'"
CONTROLLER_PORT=$((PORT + 1000))
[[ $AUTO_CREATE == true || $AUTO_CREATE == false ]] ||
    die 2 "FUNDWATCH_KAFKA_AUTO_CREATE_TOPICS must be true or false, got '$AUTO_CREATE'"
[[ $SECURITY == plaintext || $SECURITY == sasl_ssl ]] ||
    die 2 "FUNDWATCH_KAFKA_SECURITY must be plaintext or sasl_ssl, got '$SECURITY'"

# Make KAFKA_HOME absolute: the generated server.properties and the JVM use it.
KAFKA_HOME=$(realpath -m -- "$KAFKA_HOME")
LIBS=$KAFKA_HOME/libs
MARKER=$LIBS/.fetched
RUN_DIR=$KAFKA_HOME/run-$PORT
DATA_DIR=$RUN_DIR/data
LOG_DIR=$RUN_DIR/logs
PID_FILE=$RUN_DIR/broker.pid
PROPS=$RUN_DIR/server.properties
SECRETS=$(realpath -m -- "${FUNDWATCH_KAFKA_SECRETS:-$RUN_DIR/secrets}")
POLICY=${FUNDWATCH_KAFKA_POLICY:-$REPO_ROOT/deploy/security/policy.toml}
# Written into the data dir when it is formatted for sasl_ssl (absent: plaintext).
MODE_FILE=$DATA_DIR/fundwatch-security

ALT_HINT="The other way to run Kafka locally is Docker: \`docker compose up\` (docker-compose.yml at the repo root)."

# ---------------------------------------------------------------- preconditions

kafka_version() {
    local v
    v=$(sed -n 's:.*<kafka\.version>[[:space:]]*\([^<[:space:]]*\)[[:space:]]*</kafka\.version>.*:\1:p' "$POM" | head -n1)
    [[ -n $v ]] || die 1 "cannot read <kafka.version> from $POM"
    printf '%s\n' "$v"
}

require_java() {
    if ! command -v java >/dev/null 2>&1; then
        die 2 "java not found; Kafka 4.x needs Java 17 or newer." \
            "Install OpenJDK 17: apt-get install openjdk-17-jre-headless" "$ALT_HINT"
    fi
    local line major
    line=$(java -version 2>&1 | head -n1)
    # 'openjdk version "17.0.15" ...' or 'java version "1.8.0_412"'
    major=$(sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' <<<"$line")
    if [[ $major == "1 "* ]]; then major=${major#1 }; else major=${major%% *}; fi
    if ! is_uint "${major:-x}" || ((major < 17)); then
        die 2 "Kafka 4.x needs Java 17 or newer; found: $line" \
            "Install OpenJDK 17: apt-get install openjdk-17-jre-headless (and make it the default java)" "$ALT_HINT"
    fi
}

require_mvn() {
    command -v mvn >/dev/null 2>&1 ||
        die 2 "mvn not found; it is needed once to download the Kafka jars from Maven Central." \
            "Install Maven: apt-get install maven" "$ALT_HINT"
}

# The jars pom.xml asks for by name: the broker, and Kafka's command-line tools (kafka-tool.sh).
required_jars() {
    local version=$1
    printf '%s\n' "kafka_2.13-$version.jar" "kafka-tools-$version.jar"
}

libs_ok() {
    local version jar
    version=$(kafka_version)
    [[ -f $MARKER && $(<"$MARKER") == "$version" ]] || return 1
    for jar in $(required_jars "$version"); do
        [[ -f $LIBS/$jar ]] || return 1
    done
}

# ---------------------------------------------------------------- fetch

cmd_fetch() {
    local version t0 tmp n jar
    version=$(kafka_version)
    if libs_ok; then
        n=$(find "$LIBS" -maxdepth 1 -name '*.jar' | wc -l)
        echo "Kafka $version jars already present in $LIBS ($n jars); nothing to fetch."
        return 0
    fi
    require_mvn
    t0=$EPOCHREALTIME
    if [[ -f $MARKER && $(<"$MARKER") != "$version" ]]; then
        echo "Kafka jars in $LIBS are for $(<"$MARKER"), pom.xml wants $version: refetching."
    elif [[ -f $MARKER ]]; then
        echo "Kafka jars in $LIBS lack a jar pom.xml now lists: refetching."
    fi
    echo "Fetching Kafka $version jars with Maven into $LIBS ..."
    tmp=$KAFKA_HOME/libs.tmp.$$
    rm -rf -- "$tmp"
    mkdir -p -- "$KAFKA_HOME"
    if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_HOME/fetch.log" 2>&1; then
        cat "$KAFKA_HOME/fetch.log" >&2
        rm -rf -- "$tmp"
        die 1 "mvn dependency:copy-dependencies failed (is Maven Central reachable?)." "$ALT_HINT"
    fi
    for jar in $(required_jars "$version"); do
        [[ -f $tmp/$jar ]] || {
            rm -rf -- "$tmp"
            die 1 "Maven finished but $jar is missing from the copied jars"
        }
    done
    rm -rf -- "$LIBS"
    mv -- "$tmp" "$LIBS"
    printf '%s\n' "$version" >"$MARKER"
    n=$(find "$LIBS" -maxdepth 1 -name '*.jar' | wc -l)
    echo "Fetched $n jars ($(du -sh "$LIBS" | cut -f1)) for Kafka $version in $(elapsed "$t0") s."
}

# ---------------------------------------------------------------- process helpers

# Prints the pid of the broker this script started for $PORT, if it is alive.
broker_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid cmdline
    pid=$(<"$PID_FILE")
    is_uint "${pid:-x}" || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against pid reuse: the process must be our broker for this run dir.
    if [[ -r /proc/$pid/cmdline ]]; then
        cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    else
        cmdline=$(ps -o args= -p "$pid" 2>/dev/null || true)
    fi
    [[ $cmdline == *kafka.Kafka*"$PROPS"* ]] || return 1
    printf '%s\n' "$pid"
}

port_in_use() {
    # bash's /dev/tcp: succeeds if something accepts connections on the port.
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

have_kafka_python() {
    "$PYTHON" -c 'import kafka' >/dev/null 2>&1
}

# Polls until the broker answers a Metadata request (kafka-python admin client's
# list_topics()), the deadline passes (exit 1) or the process dies (exit 4).
# Args: bootstrap server, seconds, pid to watch (0 = none)
# In sasl_ssl mode a 4th argument holds the admin login: JSON of kafka-python arguments, the
# password given as the file it is in.
PROBE_PY='
import json, os, sys, time, logging
logging.disable(logging.CRITICAL)
from kafka import KafkaAdminClient
server, budget, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + budget
kw = dict(bootstrap_servers=server, request_timeout_ms=5000, client_id="fundwatch-kafka-sh-probe")
if len(sys.argv) > 4:
    login = json.loads(sys.argv[4])
    with open(login.pop("sasl_plain_password_file")) as f:
        login["sasl_plain_password"] = f.read()
    kw.update(login)
if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG:
    kw["bootstrap_timeout_ms"] = 3000
while True:
    if pid:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(4)
    try:
        admin = KafkaAdminClient(**kw)
        try:
            admin.list_topics()
        finally:
            admin.close()
        sys.exit(0)
    except Exception:
        if time.monotonic() >= deadline:
            sys.exit(1)
        time.sleep(0.5)
'

# Args: seconds, pid (0 = none). Returns 0 ready, 1 timeout, 4 process died.
wait_ready() {
    local budget=$1 pid=$2 rc=0
    if have_kafka_python; then
        if [[ $SECURITY == sasl_ssl ]]; then
            "$PYTHON" -c "$PROBE_PY" "$HOST:$PORT" "$budget" "$pid" "$(admin_login_json)" || rc=$?
        else
            "$PYTHON" -c "$PROBE_PY" "$HOST:$PORT" "$budget" "$pid" || rc=$?
        fi
        return "$rc"
    fi
    # Fallback without kafka-python: the broker's own "started" log line.
    local deadline=$((SECONDS + budget))
    while :; do
        if ((pid)) && ! kill -0 "$pid" 2>/dev/null; then return 4; fi
        if grep -qs 'Kafka Server started' "$LOG_DIR/server.log"; then return 0; fi
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

show_log_tail() {
    echo "---- last 30 lines of $LOG_DIR/server.log ----" >&2
    tail -n 30 "$LOG_DIR/server.log" >&2 2>/dev/null || echo "(no server.log)" >&2
    if [[ -s $LOG_DIR/broker.out ]]; then
        echo "---- last 30 lines of $LOG_DIR/broker.out ----" >&2
        tail -n 30 "$LOG_DIR/broker.out" >&2
    fi
}

# Sets JAVA_OPTS. Arg: heap options (word-split on purpose, e.g. "-Xms256m -Xmx1g").
java_base_opts() {
    # shellcheck disable=SC2206
    JAVA_OPTS=($1
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
        -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true
        -Dlog4j2.configurationFile="file:$LOG4J_CONF"
        -Dkafka.logs.dir="$LOG_DIR"
        -cp "$LIBS/*")
}

lock_run_dir() {
    mkdir -p -- "$RUN_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$RUN_DIR/.lock"
        flock -w $((TIMEOUT + 60)) 9 || die 1 "another kafka.sh is busy with $RUN_DIR"
    fi
}

# ---------------------------------------------------------------- secure mode

admin_login_json() {
    printf '{"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "admin", "sasl_plain_password_file": "%s", "ssl_cafile": "%s"}' \
        "$SECRETS/passwords/admin" "$SECRETS/ca.pem"
}

# Makes the local throwaway secrets on first use; a given FUNDWATCH_KAFKA_SECRETS must be complete.
ensure_secrets() {
    local f
    if [[ -z ${FUNDWATCH_KAFKA_SECRETS:-} ]]; then
        PYTHON=$PYTHON bash "$SECRETS_SCRIPT" "$SECRETS" --bootstrap "$HOST:$PORT" --policy "$POLICY" ||
            die 1 "could not make the local secrets in $SECRETS"
    fi
    for f in ca.pem broker.p12 keystore.password passwords/admin passwords/broker; do
        [[ -s $SECRETS/$f ]] || die 2 "sasl_ssl: missing $SECRETS/$f (FUNDWATCH_KAFKA_SECRETS)" \
            "Make local ones with: bash $SECRETS_SCRIPT $SECRETS --policy $POLICY"
    done
}

# The formatted data dir must be of the mode asked for: its SCRAM users exist only if it was
# formatted for sasl_ssl, and a plaintext broker on a secure data dir would bypass the ACLs.
check_data_mode() {
    local formatted=plaintext
    [[ -f $DATA_DIR/meta.properties ]] || return 0
    [[ -f $MODE_FILE ]] && formatted=$(<"$MODE_FILE")
    [[ $formatted == "$SECURITY" ]] ||
        die 2 "the data in $DATA_DIR was formatted for $formatted, FUNDWATCH_KAFKA_SECURITY is $SECURITY." \
            "Run \`$0 reset\` first (it deletes this port's topics), or use another FUNDWATCH_KAFKA_PORT."
}

# Appends the secure overlay: keys it sets are dropped from the base config first.
append_secure_config() {
    local keys esc_secrets keystore_password broker_password
    [[ -f $SECURE_TEMPLATE ]] || die 1 "missing $SECURE_TEMPLATE"
    keys=$(sed -n 's/^\([a-z][a-z0-9._-]*\)=.*/\1/p' "$SECURE_TEMPLATE" | sed 's/\./\\./g' | paste -sd'|')
    grep -Ev "^($keys)=" "$PROPS.tmp" >"$PROPS.base"
    esc_secrets=$(printf '%s' "$SECRETS" | sed 's/[&|\\]/\\&/g')
    keystore_password=$(<"$SECRETS/keystore.password")
    broker_password=$(<"$SECRETS/passwords/broker")
    [[ $keystore_password =~ ^[A-Za-z0-9]+$ && $broker_password =~ ^[A-Za-z0-9]+$ ]] ||
        die 2 "the keystore and broker passwords in $SECRETS must be letters and digits only"
    {
        cat "$PROPS.base"
        echo
        sed -e "s|@PORT@|$PORT|g" \
            -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
            -e "s|@SECRETS@|$esc_secrets|g" \
            -e "s|@KEYSTORE_PASSWORD@|$keystore_password|g" \
            -e "s|@BROKER_PASSWORD@|$broker_password|g" \
            "$SECURE_TEMPLATE"
    } >"$PROPS.tmp"
    rm -f -- "$PROPS.base"
}

# --add-scram arguments: one SCRAM-SHA-512 user per password file.
scram_arguments() {
    local file user password
    for file in "$SECRETS"/passwords/*; do
        [[ -f $file ]] || continue
        user=${file##*/}
        password=$(<"$file")
        [[ $user =~ ^[A-Za-z0-9._-]+$ && $password =~ ^[A-Za-z0-9._-]+$ ]] ||
            die 2 "$file: user names and passwords for --add-scram must be letters, digits, '.', '_', '-'"
        printf '%s\0%s\0' --add-scram "SCRAM-SHA-512=[name=$user,password=$password]"
    done
}

# ---------------------------------------------------------------- start

write_config() {
    [[ -f $TEMPLATE ]] || die 1 "missing $TEMPLATE"
    [[ -f $LOG4J_CONF ]] || die 1 "missing $LOG4J_CONF"
    local esc_data
    esc_data=$(printf '%s' "$DATA_DIR" | sed 's/[&|\\]/\\&/g')
    sed -e "s|@PORT@|$PORT|g" \
        -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$esc_data|g" \
        -e "s|@AUTO_CREATE_TOPICS@|$AUTO_CREATE|g" \
        "$TEMPLATE" >"$PROPS.tmp"
    if [[ $SECURITY == sasl_ssl ]]; then
        # The generated file holds the key store and broker passwords: owner only.
        chmod 600 -- "$PROPS.tmp"
        append_secure_config
    fi
    if grep -q '@[A-Z_]*@' "$PROPS.tmp"; then
        die 1 "unsubstituted placeholder in $TEMPLATE: $(grep -o '@[A-Z_]*@' "$PROPS.tmp" | head -n1)"
    fi
    mv -- "$PROPS.tmp" "$PROPS"
}

format_storage() {
    if [[ -f $DATA_DIR/meta.properties ]]; then
        return 0
    fi
    local cluster_id t0=$EPOCHREALTIME
    # As Kafka's own Uuid.randomUuid: an id starting with "-" would be read as an option
    # by the storage tool (1 start in 64 failed that way), so draw again.
    cluster_id=$("$PYTHON" -c '
import base64, uuid
while True:
    text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not text.startswith("-"):
        print(text)
        break
') ||
        die 1 "cannot generate a cluster id with $PYTHON"
    mkdir -p -- "$DATA_DIR"
    # The storage tool is short-lived: a small heap is enough.
    java_base_opts "-Xms64m -Xmx256m"
    local scram=()
    if [[ $SECURITY == sasl_ssl ]]; then
        # SCRAM users exist from the start, in the bootstrap metadata (KIP-900).
        mapfile -d '' scram < <(scram_arguments)
    fi
    if ! java "${JAVA_OPTS[@]}" kafka.tools.StorageTool format \
        --standalone -t "$cluster_id" -c "$PROPS" "${scram[@]}" >"$LOG_DIR/format.log" 2>&1; then
        cat "$LOG_DIR/format.log" >&2
        die 1 "formatting KRaft storage in $DATA_DIR failed"
    fi
    if [[ $SECURITY == sasl_ssl ]]; then
        printf '%s\n' "$SECURITY" >"$MODE_FILE"
    fi
    echo "Formatted KRaft storage in $DATA_DIR (cluster id $cluster_id) in $(elapsed "$t0") s."
}

cmd_start() {
    local pid t0 t_all=$EPOCHREALTIME rc=0
    require_java
    lock_run_dir

    if pid=$(broker_pid); then
        if wait_ready 5 "$pid"; then
            echo "Kafka already running on $HOST:$PORT (pid $pid)"
            return 0
        fi
        echo "Kafka (pid $pid) is running but not answering yet; waiting up to $TIMEOUT s ..."
        if wait_ready "$TIMEOUT" "$pid"; then
            echo "Kafka already running on $HOST:$PORT (pid $pid)"
            return 0
        fi
        show_log_tail
        die 1 "Kafka (pid $pid) does not answer on $HOST:$PORT; try: $0 stop"
    fi
    rm -f -- "$PID_FILE"

    for p in "$PORT" "$CONTROLLER_PORT"; do
        if port_in_use "$p"; then
            die 1 "port $HOST:$p is already in use by another process (not a broker started by this script for run dir $RUN_DIR)." \
                "Stop it, or pick another port with FUNDWATCH_KAFKA_PORT (the controller uses port+1000)."
        fi
    done

    if ! libs_ok; then
        cmd_fetch
    fi

    mkdir -p -- "$LOG_DIR"
    check_data_mode
    if [[ $SECURITY == sasl_ssl ]]; then
        ensure_secrets
    fi
    write_config
    format_storage

    t0=$EPOCHREALTIME
    java_base_opts "$HEAP"
    # setsid: the broker must not die with the caller's terminal or process group.
    (
        cd -- "$RUN_DIR"
        exec 9>&- # do not hand the run-dir lock to the long-lived broker
        exec setsid java "${JAVA_OPTS[@]}" kafka.Kafka "$PROPS" \
            </dev/null >>"$LOG_DIR/broker.out" 2>&1
    ) &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    echo "Starting Kafka on $HOST:$PORT (controller $HOST:$CONTROLLER_PORT, pid $pid, logs in $LOG_DIR) ..."

    wait_ready "$TIMEOUT" "$pid" || rc=$?
    case $rc in
    0)
        echo "Kafka is up on $HOST:$PORT (pid $pid): broker start $(elapsed "$t0") s, whole \`start\` $(elapsed "$t_all") s."
        if [[ $SECURITY == sasl_ssl ]]; then
            echo "SASL_SSL (SCRAM-SHA-512) with ACLs; client configs in $SECRETS/clients/ (admin.properties: the admin)."
        fi
        ;;
    4)
        rm -f -- "$PID_FILE"
        show_log_tail
        die 1 "Kafka exited during startup (see the log above)"
        ;;
    *)
        show_log_tail
        stop_pid "$pid" >/dev/null 2>&1 || true
        rm -f -- "$PID_FILE"
        die 1 "Kafka did not answer on $HOST:$PORT within $TIMEOUT s (FUNDWATCH_KAFKA_TIMEOUT); stopped it."
        ;;
    esac
}

# ---------------------------------------------------------------- stop / status / reset

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 60; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    echo "Kafka (pid $pid) still running after 30 s; sending SIGKILL."
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
}

cmd_stop() {
    local pid t0=$EPOCHREALTIME
    lock_run_dir
    if ! pid=$(broker_pid); then
        rm -f -- "$PID_FILE"
        echo "Kafka on $HOST:$PORT is not running."
        return 0
    fi
    echo "Stopping Kafka on $HOST:$PORT (pid $pid) ..."
    stop_pid "$pid"
    rm -f -- "$PID_FILE"
    echo "Stopped in $(elapsed "$t0") s."
}

cmd_status() {
    local pid
    if pid=$(broker_pid); then
        if wait_ready 5 "$pid" >/dev/null 2>&1; then
            echo "running: pid $pid, port $HOST:$PORT (controller $CONTROLLER_PORT), data $DATA_DIR, logs $LOG_DIR"
        else
            echo "running (not answering yet): pid $pid, port $HOST:$PORT (controller $CONTROLLER_PORT), data $DATA_DIR, logs $LOG_DIR"
        fi
        return 0
    fi
    echo "not running: port $HOST:$PORT, data $DATA_DIR"
    if port_in_use "$PORT"; then
        echo "note: another process (not started by this script) listens on $HOST:$PORT"
    fi
    return 3
}

cmd_reset() {
    cmd_stop
    if [[ -d $DATA_DIR ]]; then
        rm -rf -- "$DATA_DIR"
        echo "Deleted $DATA_DIR; the next start formats fresh storage."
    else
        echo "No data dir $DATA_DIR; nothing to delete."
    fi
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

main() {
    case ${1:-} in
    fetch)
        require_java
        cmd_fetch
        ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 64
        ;;
    esac
}

main "$@"
