#!/usr/bin/env bash
# bench-tunnels.sh — measures raw veth, the real vtund and vtunts in ONE pair of private network
# namespaces (created once, always removed), mode by mode, and writes the raw numbers as
# tab-separated "mode<TAB>daemon<TAB>key<TAB>value" lines (scripts/bench renders them).
#
#   netns vtbn-a [vtbn-va 10.211.0.1/24] <==veth==> [vtbn-vb 10.211.0.2/24] netns vtbn-b
#   tunnel: server 10.212.0.1 (vtbn-a) <-> client 10.212.0.2 (vtbn-b); iperf3/ping run in vtbn-b
#   against the server side ("fwd" = client -> server, "rev" = iperf3 -R).
#
# Usage: bench-tunnels.sh --results FILE --vtunts "COMMAND" [--label NAME] [--modes "tcp udp+aes128cbc ..."]
#          [--duration S] [--udp-duration S] [--idle S] [--settle S] [--pings N] [--ping-interval S] [--no-raw]
#          [--daemons "vtund vtunts"] [--rtt-pairs R [--rtt-pair-pings N] [--rtt-pairs-only]]
#          [--outer-cc ALG] [--inner-cc ALG] [--link-rate RATE]
# A mode is PROTO[+CIPHER][+zlib:N|lzo:N]. COMMAND is how to start vtunts (e.g. /x/dist/vtunts or
# "/x/scripts/run deno"); it must stay in the foreground with -n and replace itself (exec).
#
# Per daemon pair and mode: start server, wait until it listens, start client, wait for a ping over
# the tunnel; ping right away (cold: the first pings of a fresh tunnel); iperf3 TCP fwd with a ping
# running alongside (loaded RTT, daemons' CPU); iperf3 TCP rev; iperf3 UDP -b 0 -l 1400 and -l 200
# (received packets/s, loss); then the tunnel idles: after --settle s without traffic, CPU and
# voluntary context switches of all daemon threads over --idle s, then ping again (idle RTT of a
# tunnel in service); peak RSS (VmHWM) and private memory (RssAnon) at the end. If a daemon dies,
# the step it died in and every later step are recorded as "failed" and its last log lines go into
# the results ("note" key). Every step has a timeout.
#
# --rtt-pairs R: afterwards, R rounds per mode of a paired idle-RTT comparison. One tunnel's idle
# RTT moves by tens of microseconds from run to run (thread placement, the host), as much as the
# daemons differ; so vtund and vtunts run at the same time in two pairs, vtbn-a/vtbn-b and
# vtbn-c/vtbn-d (which daemon gets which pair, and so goes first, alternates by round), both get
# the same warm-up load one after the other, and after --settle s their pings (--rtt-pair-pings,
# every 20 ms) run interleaved, 10 ms apart: both see the same machine.
# Keys rtt_pair<round> = "avg/p50" ms. --rtt-pairs-only skips everything else.
#
# TCP congestion control: --outer-cc ALG makes ALG the namespaces' default, which both daemons'
# TCP connections use (neither sets its own here); --inner-cc ALG runs iperf3's TCP flows with
# -C ALG. Unset: the system's default for both (the inner flow keeps it when only --outer-cc is
# given).
#
# --link-rate RATE: a tbf qdisc on both ends of the veth (RATE, burst 32k, 20 ms of queue): a slow
# link, on which the tunnel's own queues, not the daemons' speed, decide the loaded RTT.
set -u

NS_A=vtbn-a; NS_B=vtbn-b
IF_A=vtbn-va; IF_B=vtbn-vb
ALL_NS="vtbn-a vtbn-b vtbn-c vtbn-d" # the second pair is only used by --rtt-pairs
IP_A=10.211.0.1; IP_B=10.211.0.2
TUN_A=10.212.0.1; TUN_B=10.212.0.2
PORT=5000
IPERF_PORT=5201
SESSION=vtbnbench
PASSWD=vtbn-secret-pw
LOCK=/run/lock/vtbn-bench.lock

RESULTS="" VTUNTS="" LABEL=vtunts MODES="tcp udp" DURATION=10 UDP_DURATION="" IDLE=5 SETTLE=5
PINGS=100 PING_INTERVAL=0.02 RAW=1 DAEMONS="vtund vtunts" RTT_PAIRS=0 RTT_PAIR_PINGS=500 RTT_PAIRS_ONLY=0
OUTER_CC="" INNER_CC="" LINK_RATE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --results) RESULTS=$2; shift 2 ;;
    --vtunts) VTUNTS=$2; shift 2 ;;
    --label) LABEL=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --udp-duration) UDP_DURATION=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --pings) PINGS=$2; shift 2 ;;
    --ping-interval) PING_INTERVAL=$2; shift 2 ;;
    --no-raw) RAW=0; shift ;;
    --daemons) DAEMONS=$2; shift 2 ;;
    --rtt-pairs) RTT_PAIRS=$2; shift 2 ;;
    --rtt-pair-pings) RTT_PAIR_PINGS=$2; shift 2 ;;
    --rtt-pairs-only) RTT_PAIRS_ONLY=1; shift ;;
    --outer-cc) OUTER_CC=$2; shift 2 ;;
    --inner-cc) INNER_CC=$2; shift 2 ;;
    --link-rate) LINK_RATE=$2; shift 2 ;;
    *) echo "bench-tunnels.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$RESULTS" ] || { echo "bench-tunnels.sh: --results FILE is required" >&2; exit 2; }
case " $DAEMONS " in *" vtunts "*) [ -n "$VTUNTS" ] || { echo "bench-tunnels.sh: --vtunts COMMAND is required" >&2; exit 2; } ;; esac
UDP_DURATION=${UDP_DURATION:-$DURATION}
# The inner flow keeps the system's default unless told otherwise, also when the namespaces' changes.
[ -n "$OUTER_CC" ] && [ -z "$INNER_CC" ] && INNER_CC=$(cat /proc/sys/net/ipv4/tcp_congestion_control)
: > "$RESULTS"

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
put() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; } # mode daemon key value

# Only one run at a time may own vtbn-a/vtbn-b (two at once would also skew each other's numbers):
# wait up to 30 minutes for another run to finish. Nothing is touched before the lock is ours.
exec 9> "$LOCK"
if ! flock -n 9; then
  log "another bench run owns netns $NS_A/$NS_B ($LOCK): waiting for it (up to 30 minutes)"
  flock -w 1800 9 || { log "gave up waiting for $LOCK"; exit 1; }
fi

WORK=$(mktemp -d -t vtbn-bench.XXXXXX)
HZ=$(getconf CLK_TCK)
# Debian's vtund 3.0.4 + OpenSSL 3: Blowfish segfaults unless the legacy provider is loaded.
printf '%s\n' 'openssl_conf = openssl_init' '[openssl_init]' 'providers = provider_sect' '[provider_sect]' \
  'default = default_sect' 'legacy = legacy_sect' '[default_sect]' 'activate = 1' '[legacy_sect]' 'activate = 1' \
  > "$WORK/openssl-legacy.cnf"

ns_exists() { [ -e "/run/netns/$1" ]; }

kill_ns_procs() { # ["ns ..."]: every process living in our namespaces (only ours can be there), or in the given ones
  local which=${1:-$ALL_NS} ns p sig
  for sig in TERM KILL; do
    for ns in $which; do
      ns_exists $ns || continue
      for p in $(ip netns pids $ns 2>/dev/null); do kill -s $sig "$p" 2>/dev/null; done
    done
    [ $sig = TERM ] && wait_ns_empty 3 "$which"
  done
  wait_ns_empty 2 "$which"
}

wait_ns_empty() { # <seconds> <"ns ...">
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )) ns busy
  while [ "$(date +%s%N)" -lt $deadline ]; do
    busy=""
    for ns in $2; do ns_exists $ns && [ -n "$(ip netns pids $ns 2>/dev/null)" ] && busy=1; done
    [ -z "$busy" ] && return 0
    sleep 0.1
  done
  return 1
}

cleanup() {
  trap - EXIT INT TERM
  kill_ns_procs
  for ns in $ALL_NS; do ns_exists $ns && ip netns del $ns 2>/dev/null; done
  if [ "${KEEP_LOGS:-0}" = 1 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

setup_ns() {
  kill_ns_procs "$NS_A $NS_B"
  for ns in $NS_A $NS_B; do ns_exists $ns && ip netns del $ns; done # leftovers of a killed run
  ip netns add $NS_A && ip netns add $NS_B || { log "cannot create network namespaces"; exit 1; }
  ip link add $IF_A netns $NS_A type veth peer name $IF_B netns $NS_B || { log "cannot create veth pair"; exit 1; }
  ip -n $NS_A addr add $IP_A/24 dev $IF_A
  ip -n $NS_B addr add $IP_B/24 dev $IF_B
  for ns in $NS_A $NS_B; do
    ip -n $ns link set lo up
    ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    if [ -n "$OUTER_CC" ] && ! ip netns exec $ns sysctl -qw net.ipv4.tcp_congestion_control="$OUTER_CC" 2>/dev/null; then
      log "--outer-cc $OUTER_CC: refused as a namespace's default (a namespace may only pick from" \
        "net.ipv4.tcp_allowed_congestion_control: $(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control))"
      exit 2
    fi
  done
  ip -n $NS_A link set $IF_A up
  ip -n $NS_B link set $IF_B up
  if [ -n "$LINK_RATE" ]; then
    for end in "$NS_A $IF_A" "$NS_B $IF_B"; do
      set -- $end
      ip netns exec $1 tc qdisc add dev $2 root tbf rate "$LINK_RATE" burst 32k latency 20ms || { log "--link-rate $LINK_RATE: tc refused it"; exit 2; }
    done
  fi
}

# ---- configurations -------------------------------------------------------------------------
# mode_parts <mode> -> sets PROTO ENC COMP
mode_parts() {
  local part
  PROTO=${1%%+*}; ENC=no; COMP=no
  IFS=+ read -ra parts <<< "${1#"$PROTO"}"
  for part in "${parts[@]}"; do
    [ -z "$part" ] && continue
    case "$part" in zlib:*|lzo:*) COMP=$part ;; *) ENC=$part ;; esac
  done
}

write_vtund_conf() { # <file> <server|client>
  local me=$TUN_B peer=$TUN_A
  [ "$2" = server ] && { me=$TUN_A; peer=$TUN_B; }
  {
    echo "options {"; echo "  port $PORT;"; echo "  ip /usr/sbin/ip;"; echo "}"
    echo "$SESSION {"
    echo "  passwd $PASSWD;"
    if [ "$2" = server ]; then
      echo "  type tun;"; echo "  proto $PROTO;"; echo "  encrypt $ENC;"; echo "  compress $COMP;"; echo "  keepalive no;"
    else
      echo "  persist no;"
    fi
    echo "  up {"; echo "    ip \"addr add $me/32 peer $peer dev %d\";"; echo "    ip \"link set %d up\";"; echo "  };"
    echo "}"
  } > "$1"
}

write_vtunts_toml() { # <file> <server|client>
  local me=$TUN_B peer=$TUN_A
  [ "$2" = server ] && { me=$TUN_A; peer=$TUN_B; }
  {
    echo "[options]"; echo "port = $PORT"
    echo "[hosts.$SESSION]"
    echo "passwd = \"$PASSWD\""
    if [ "$2" = server ]; then
      echo "proto = \"$PROTO\""; echo 'keepalive = "no"'
      [ "$ENC" != no ] && echo "encrypt = \"$ENC\""
      [ "$COMP" != no ] && echo "compress = \"$COMP\""
    fi
    echo "up = [\"ip addr add $me/32 peer $peer dev %%\", \"ip link set %% up\"]"
  } > "$1"
}

# ---- processes ------------------------------------------------------------------------------
start_in() { # <ns> <logname> <cmd...>   setsid: vtund signals its whole process group on exit
  local ns=$1 name=$2; shift 2
  setsid ip netns exec "$ns" "$@" > "$WORK/$name.log" 2>&1 < /dev/null 9>&- &
}

daemon_pids() { # processes in both namespaces other than our tools
  local ns p c
  for ns in $NS_A $NS_B; do
    for p in $(ip netns pids $ns 2>/dev/null); do
      c=$(cat /proc/$p/comm 2>/dev/null) || continue
      case "$c" in iperf3|ping|sleep|timeout|ip|sh|bash|ss) ;; *) echo "$p" ;; esac
    done
  done
}

all_alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done; }

cpu_ticks() { # utime+stime(+children) of the given processes (all threads), in clock ticks
  local p total=0 f
  for p in "$@"; do
    f=$(cat /proc/$p/stat 2>/dev/null) || continue
    f=${f##*) }
    read -ra s <<< "$f"
    total=$(( total + s[11] + s[12] + s[13] + s[14] ))
  done
  echo $total
}

# idle_sample <seconds> <pids...>: "<cpu ns> <voluntary ctxt switches>" of every thread of the
# given processes over the window. Threads are sampled every 0.2 s and each one's growth is
# summed, so threads that start or exit during the window (runtimes' JIT/GC helpers do) count too.
idle_sample() {
  local secs=$1 p t line cpu vol end
  shift
  local -A last_cpu=() last_vol=()
  local sum_cpu=0 sum_vol=0 first=1
  end=$(( $(date +%s%N) + secs * 1000000000 ))
  while :; do
    for p in "$@"; do
      for t in /proc/$p/task/*; do
        # 2>/dev/null first: a thread that has just exited makes the < redirection itself fail.
        read -r cpu _ 2>/dev/null < "$t/schedstat" || continue
        line=$(grep -m1 '^voluntary_ctxt_switches' "$t/status" 2>/dev/null) || continue
        vol=${line##*[[:space:]]}
        if [ -n "${last_vol[$t]:-}" ]; then
          sum_cpu=$(( sum_cpu + cpu - ${last_cpu[$t]} )); sum_vol=$(( sum_vol + vol - ${last_vol[$t]} ))
        elif [ $first = 0 ]; then # born during the window
          sum_cpu=$(( sum_cpu + cpu )); sum_vol=$(( sum_vol + vol ))
        fi
        last_cpu[$t]=$cpu; last_vol[$t]=$vol
      done
    done
    first=0
    [ "$(date +%s%N)" -lt $end ] || break
    sleep 0.2
  done
  echo "$sum_cpu $sum_vol"
}

max_hwm_mib() { # <VmHWM|RssAnon> <pids...>: that figure of the largest of the given processes
  local field=$1 p kb max=0
  shift
  for p in "$@"; do
    kb=$(awk -v f="$field:" '$1 == f {print $2}' /proc/$p/status 2>/dev/null)
    [ -n "$kb" ] && [ "$kb" -gt $max ] && max=$kb
  done
  awk -v k=$max 'BEGIN{ if (k > 0) printf "%.1f", k / 1024; else print "-" }'
}

wait_listening() { # <seconds>: the server accepts on PORT in NS_A
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  while [ "$(date +%s%N)" -lt $deadline ]; do
    [ -n "$(ip netns exec $NS_A ss -Hltn "sport = :$PORT" 2>/dev/null)" ] && return 0
    sleep 0.1
    [ -n "$(ip netns pids $NS_A 2>/dev/null)" ] || { sleep 0.2; [ -n "$(ip netns pids $NS_A 2>/dev/null)" ] || return 1; } # it exited
  done
  return 1
}

wait_tunnel() { # <seconds>: a ping crosses the tunnel
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  while [ "$(date +%s%N)" -lt $deadline ]; do
    timeout 3 ip netns exec $NS_B ping -n -c 1 -W 1 $TUN_A > /dev/null 2>&1 && return 0
    sleep 0.1
    [ -n "$(ip netns pids $NS_A 2>/dev/null)" ] && [ -n "$(ip netns pids $NS_B 2>/dev/null)" ] || return 1 # one side exited
  done
  return 1
}

start_iperf_server() {
  local p
  for p in $(ip netns pids $NS_A 2>/dev/null); do [ "$(cat /proc/$p/comm 2>/dev/null)" = iperf3 ] && kill -9 "$p" 2>/dev/null; done
  setsid ip netns exec $NS_A iperf3 -s -p $IPERF_PORT >> "$WORK/iperf-server.log" 2>&1 < /dev/null 9>&- &
  local i
  for i in $(seq 30); do
    [ -n "$(ip netns exec $NS_A ss -Hltn "sport = :$IPERF_PORT" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  return 1
}

# ---- measurements ---------------------------------------------------------------------------
# ping_stats <file> <sent>: "avg/p99" of the RTTs in ping's output (+ " (N% lost)")
ping_stats() {
  sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$1" | sort -n | awk -v sent="$2" '
    { t[NR] = $1; sum += $1 }
    END {
      if (NR == 0) { print "failed"; exit }
      i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; if (i > NR) i = NR
      printf "%.3f/%.3f", sum / NR, t[i]
      lost = sent > 0 ? (sent - NR) * 100 / sent : 0
      if (lost >= 1) printf " (%.0f%% lost)", lost
      print ""
    }'
}

run_ping() { # <target> <count> <outfile>
  timeout -s KILL $(awk -v c="$2" -v i="$PING_INTERVAL" 'BEGIN{printf "%d", c * i + 5}') \
    ip netns exec $NS_B ping -n -i "$PING_INTERVAL" -c "$2" -W 1 "$1" > "$3" 2>&1
}

# iperf <name> <target> <seconds> <iperf3 args...>: JSON in $WORK/<name>.json. Stopped after
# seconds + 20, or at once when a daemon of the pair dies (iperf3 would otherwise hang).
iperf() {
  local name=$1 target=$2 secs=$3 pid deadline cc=(); shift 3
  [ -n "$INNER_CC" ] && [[ " $* " != *" -u "* ]] && cc=(-C "$INNER_CC")
  ip netns exec $NS_B iperf3 -c "$target" -p $IPERF_PORT -J --connect-timeout 3000 -t "$secs" "${cc[@]}" "$@" \
    > "$WORK/$name.json" 2> "$WORK/$name.err" < /dev/null &
  pid=$!
  deadline=$(( ${EPOCHREALTIME/./} + (secs + 20) * 1000000 ))
  while kill -0 $pid 2>/dev/null; do
    if [ ${EPOCHREALTIME/./} -gt $deadline ] || { [ ${#PIDS[@]} -gt 0 ] && ! all_alive "${PIDS[@]}"; }; then
      sleep 0.5; kill -9 $pid 2>/dev/null; break
    fi
    sleep 0.2
  done
  { wait $pid; } 2>/dev/null
}

tcp_gbps() { jq -r 'if .error then "failed" else ((.end.sum_received.bits_per_second // 0) / 1e9 * 1000 | round / 1000 | tostring) end' "$1" 2>/dev/null || echo failed; }
# UDP: "<packets/s the receiver got> <loss%>". iperf3 3.12's end.sum is the receiver's view: packets
# the client sent, lost_packets counted by the server from sequence numbers.
udp_stats() {
  jq -r 'if .error then "failed" else (.end.sum as $s | (($s.packets - $s.lost_packets) / $s.seconds) as $pps
    | "\($pps | round) \($s.lost_percent * 10 | round / 10)") end' "$1" 2>/dev/null || echo failed
}
cpu_pct() { awk -v a=$1 -v b=$2 -v t0=$3 -v t1=$4 -v hz=$HZ 'BEGIN{printf "%.0f", (b-a)/hz/((t1-t0)/1e9)*100}'; }

PIDS=() # the running daemon pair (empty for raw veth)

# run_step <mode> <daemon> <target> <step>: measures one step and sets STEP_VALUES
# ("key<TAB>value" lines); they are recorded only if every daemon survived the step.
run_step() {
  local mode=$1 who=$2 target=$3 step=$4 t0 t1 c0 c1 a b v
  STEP_VALUES=""
  add() { STEP_VALUES+="$1"$'\t'"$2"$'\n'; }
  case $step in
    idle) # no traffic at all, after SETTLE s of quiet (runtimes finish their post-load GC and JIT work)
      sleep "$SETTLE"
      t0=$(date +%s%N); a=$(idle_sample "$IDLE" "${PIDS[@]}"); t1=$(date +%s%N)
      add idle_cpu "$(awk -v a="${a% *}" -v t0=$t0 -v t1=$t1 'BEGIN{printf "%.2f", a/(t1-t0)*100}')"
      add idle_wakeups "$(awk -v a="${a#* }" -v t0=$t0 -v t1=$t1 'BEGIN{printf "%.1f", a/((t1-t0)/1e9)}')" ;;
    ping_cold|ping) # ping_cold: the first pings of a fresh tunnel; ping: idle, after it carried traffic
      run_ping "$target" "$PINGS" "$WORK/$step.txt"
      add "$([ $step = ping_cold ] && echo rtt_cold || echo rtt_idle)" "$(ping_stats "$WORK/$step.txt" "$PINGS")" ;;
    tcp_fwd) # with a ping alongside: starts 1 s into the run, ends before it
      local lcount ping_pid
      lcount=$(awk -v d="$DURATION" -v i="$PING_INTERVAL" 'BEGIN{n = int((d - 1.5) / i); print (n < 10 ? 10 : n)}')
      ( sleep 1; run_ping "$target" "$lcount" "$WORK/ping-load.txt" ) & ping_pid=$!
      c0=$(cpu_ticks "${PIDS[@]}"); t0=$(date +%s%N)
      iperf $step "$target" "$DURATION"
      t1=$(date +%s%N); c1=$(cpu_ticks "${PIDS[@]}")
      wait $ping_pid
      v=$(tcp_gbps "$WORK/$step.json"); add $step "$v"
      add rtt_load "$(ping_stats "$WORK/ping-load.txt" "$lcount")"
      [ ${#PIDS[@]} -gt 0 ] && add cpu_$step "$(cpu_pct $c0 $c1 $t0 $t1)" ;;
    tcp_rev|udp1400|udp200)
      c0=$(cpu_ticks "${PIDS[@]}"); t0=$(date +%s%N)
      case $step in
        tcp_rev) iperf $step "$target" "$DURATION" -R ;;
        udp1400) iperf $step "$target" "$UDP_DURATION" -u -b 0 -l 1400 ;;
        udp200) iperf $step "$target" "$UDP_DURATION" -u -b 0 -l 200 ;;
      esac
      t1=$(date +%s%N); c1=$(cpu_ticks "${PIDS[@]}")
      if [ $step = tcp_rev ]; then v=$(tcp_gbps "$WORK/$step.json"); else v=$(udp_stats "$WORK/$step.json"); fi
      add $step "$v"
      [ ${#PIDS[@]} -gt 0 ] && add cpu_$step "$(cpu_pct $c0 $c1 $t0 $t1)" ;;
  esac
  if [ "${v:-}" = failed ]; then
    log "$who $mode: $step failed: $(jq -r '.error // empty' "$WORK/$step.json" 2>/dev/null)"
    start_iperf_server # it can get stuck after a failed test
  fi
}

log_tail() { tail -n 3 "$1" 2>/dev/null | tr '\n\t' '  ' | cut -c1-300; }

# start_pair <mode> <vtund|vtunts>: starts server and client, waits for the tunnel, sets PIDS; on
# failure prints the reason and returns 1. A tunnel that does not come up is tried twice more, for
# either daemon: vtund 3.0.4 sometimes exits at start with "Input/output error" (a TUN read that
# beats its own up commands), which is its start-up race, not what the table measures.
start_pair() {
  local attempt why=""
  for attempt in 1 2 3; do
    if why=$(start_pair_once "$@"); then
      [ $attempt -gt 1 ] && log "$2 $1: up at attempt $attempt (before: $why)"
      return 0
    fi
    log "$2 $1: attempt $attempt: $why"
    case $why in "tunnel did not come up"*) kill_ns_procs "$NS_A $NS_B" ;; *) break ;; esac
  done
  echo "$why"
  return 1
}

start_pair_once() {
  local mode=$1 who=$2 srv cli
  srv="$WORK/$mode-$who-srv.log"; cli="$WORK/$mode-$who-cli.log"
  if [ "$who" = vtund ]; then
    write_vtund_conf "$WORK/srv.conf" server; write_vtund_conf "$WORK/cli.conf" client
    OPENSSL_CONF=$WORK/openssl-legacy.cnf start_in $NS_A "$mode-$who-srv" vtund -n -s -f "$WORK/srv.conf"
  else
    write_vtunts_toml "$WORK/srv.toml" server; write_vtunts_toml "$WORK/cli.toml" client
    start_in $NS_A "$mode-$who-srv" $VTUNTS -n -s -f "$WORK/srv.toml"
  fi
  wait_listening 20 || { echo "server did not start: $(log_tail "$srv")"; return 1; }
  if [ "$who" = vtund ]; then
    OPENSSL_CONF=$WORK/openssl-legacy.cnf start_in $NS_B "$mode-$who-cli" vtund -n -f "$WORK/cli.conf" $SESSION $IP_A
  else
    start_in $NS_B "$mode-$who-cli" $VTUNTS -n -f "$WORK/cli.toml" $SESSION $IP_A
  fi
  wait_tunnel 20 || { echo "tunnel did not come up: server: $(log_tail "$srv") | client: $(log_tail "$cli")"; return 1; }
  sleep 0.3 # let the up commands and the handshake echoes finish
  mapfile -t PIDS < <(daemon_pids)
  start_iperf_server || { echo "iperf3 server did not start"; return 1; }
}

# run_pair <mode> <vtund|vtunts|raw>: every step; a daemon that dies fails the step it died in,
# then the pair is restarted (at most twice) for the remaining steps.
run_pair() {
  local mode=$1 who=$2 label=$2 target=$TUN_A step up=0 restarts=0 died="" why k v
  local steps="ping_cold tcp_fwd tcp_rev udp1400 udp200 idle ping"
  [ "$who" = vtunts ] && label=$LABEL
  if [ "$who" = raw ]; then label=-; target=$IP_A; steps=${steps/ idle/}; PIDS=(); start_iperf_server; up=1; fi
  mode_parts "$mode"
  for step in $steps; do
    if [ $up = 0 ]; then
      if [ $restarts -gt 2 ] || ! why=$(start_pair "$mode" "$who"); then
        if [ $restarts -gt 2 ]; then why="not restarted after $restarts deaths"
        elif [ -n "$died" ]; then why="restart: $why"; fi
        put "$mode" "$label" failed "$why"; log "$label $mode: $why"; break
      fi
      mapfile -t PIDS < <(daemon_pids); up=1
      if [ ${#PIDS[@]} -lt 2 ]; then # server and client, at least: otherwise CPU and liveness are wrong
        put "$mode" "$label" failed "found ${#PIDS[@]} daemon process(es) in the namespaces, expected 2 or more"; break
      fi
    fi
    sleep 0.2
    run_step "$mode" "$label" "$target" $step
    if [ ${#PIDS[@]} -gt 0 ] && ! all_alive "${PIDS[@]}"; then
      log "$label $mode: a daemon died during $step"
      put "$mode" "$label" note "died during $step: server: $(log_tail "$WORK/$mode-$who-srv.log") | client: $(log_tail "$WORK/$mode-$who-cli.log")"
      died+="${died:+, }$step"; restarts=$(( restarts + 1 )); kill_ns_procs; up=0
      continue
    fi
    while IFS=$'\t' read -r k v; do [ -n "$k" ] && put "$mode" "$label" "$k" "$v"; done <<< "$STEP_VALUES"
  done
  [ -n "$died" ] && put "$mode" "$label" died "$died"
  if [ $up = 1 ] && [ ${#PIDS[@]} -gt 0 ]; then
    put "$mode" "$label" rss_mib "$(max_hwm_mib VmHWM "${PIDS[@]}")"
    put "$mode" "$label" rss_anon_mib "$(max_hwm_mib RssAnon "${PIDS[@]}")"
  fi
  log "$label $mode: $(awk -F'\t' -v m="$mode" -v w="$label" '$1 == m && $2 == w && $3 != "note" {printf "%s=%s ", $3, $4}' "$RESULTS")"
  kill_ns_procs
}

use_pair() { # <1|2>: the namespace pair the functions above work on
  if [ "$1" = 1 ]; then NS_A=vtbn-a; NS_B=vtbn-b; IF_A=vtbn-va; IF_B=vtbn-vb
  else NS_A=vtbn-c; NS_B=vtbn-d; IF_A=vtbn-vc; IF_B=vtbn-vd; fi
}

# ping_avg_p50 <file>: "avg/p50" of the RTTs in ping's output
ping_avg_p50() {
  sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$1" | sort -n |
    awk '{ t[NR] = $1; s += $1 } END { if (NR == 0) print "failed"; else printf "%.3f/%.3f\n", s / NR, t[int((NR + 1) / 2)] }'
}

# rtt_pairs <mode>: RTT_PAIRS rounds of vtund and vtunts side by side (see the top)
rtt_pairs() {
  local mode=$1 round p why
  local -a who
  mode_parts "$mode"
  for round in $(seq "$RTT_PAIRS"); do
    kill_ns_procs
    if [ $((round % 2)) = 1 ]; then who=(- vtund vtunts); else who=(- vtunts vtund); fi # who[pair]
    for p in 1 2; do
      use_pair $p; setup_ns
      if ! why=$(start_pair "$mode" "${who[$p]}"); then
        put "$mode" vtund "rtt_pair$round" failed; put "$mode" "$LABEL" "rtt_pair$round" failed
        log "rtt pairs $mode round $round: ${who[$p]}: $why"; kill_ns_procs; use_pair 1; return
      fi
    done
    for p in 1 2; do # the warm-up: a short version of the table's load, one pair after the other
      use_pair $p; mapfile -t PIDS < <(daemon_pids)
      iperf warm-fwd $TUN_A 3; iperf warm-rev $TUN_A 3 -R
      iperf warm-u1400 $TUN_A 1 -u -b 0 -l 1400; iperf warm-u200 $TUN_A 1 -u -b 0 -l 200
    done
    sleep "$SETTLE"
    use_pair 1; run_ping $TUN_A "$RTT_PAIR_PINGS" "$WORK/pair1.txt" &
    sleep 0.01
    use_pair 2; run_ping $TUN_A "$RTT_PAIR_PINGS" "$WORK/pair2.txt"
    wait
    local vtund_file=pair1.txt vtunts_file=pair2.txt
    [ "${who[1]}" = vtunts ] && { vtund_file=pair2.txt; vtunts_file=pair1.txt; }
    put "$mode" vtund "rtt_pair$round" "$(ping_avg_p50 "$WORK/$vtund_file")"
    put "$mode" "$LABEL" "rtt_pair$round" "$(ping_avg_p50 "$WORK/$vtunts_file")"
    log "rtt pairs $mode round $round (${who[1]} first): vtund $(ping_avg_p50 "$WORK/$vtund_file"), $LABEL $(ping_avg_p50 "$WORK/$vtunts_file") (avg/p50 ms)"
  done
  kill_ns_procs
  for p in 2 1; do use_pair $p; for ns in $NS_A $NS_B; do ns_exists $ns && ip netns del $ns; done; done
}

if [ "$RTT_PAIRS_ONLY" = 0 ]; then
  setup_ns
  [ "$RAW" = 1 ] && { log "=== raw veth"; run_pair raw raw; }
  for mode in $MODES; do
    for who in $DAEMONS; do
      log "=== $mode: $who"
      run_pair "$mode" "$who"
    done
  done
fi
if [ "$RTT_PAIRS" -gt 0 ]; then
  for mode in $MODES; do
    log "=== $mode: idle RTT, vtund and $LABEL side by side ($RTT_PAIRS rounds)"
    rtt_pairs "$mode"
  done
fi
log "done"
