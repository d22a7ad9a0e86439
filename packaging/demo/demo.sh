#!/usr/bin/env bash
# `make demo`: shaperd in a throwaway network namespace with packaging/shaper.toml plus packaging/demo/demo.toml,
# polite and abusive UDP sources replayed from a second namespace, `shaperctl counters --watch` while it runs,
# then a summary that checks the abusive sources were limited or blocked and the polite ones untouched.
#
#   packaging/demo/demo.sh              watch until Ctrl-C (at most 10 minutes), then the summary
#   DURATION=20 packaging/demo/demo.sh  unattended: traffic for 20 s, the summary, exit 0 only if it checks out
#
# Needs root, iproute2, nftables, tcpreplay and jq (packaging/install-deps.sh) and a built tree (`make build`).
# Everything happens in the two namespaces it creates (addresses from 198.18.0.0/15); on exit, Ctrl-C or
# SIGTERM it stops shaperd and the traffic and deletes both namespaces and its temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

config=${CONFIG:-Release}
duration=${DURATION:-}
daemon_dll=src/Daemon/bin/$config/net10.0/shaperd.dll
ctl_dll=src/Ctl/bin/$config/net10.0/shaperctl.dll

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (it creates network namespaces and nftables tables inside them)" >&2
    exit 1
fi
if [ -n "$duration" ] && ! [[ "$duration" =~ ^[1-9][0-9]*$ && "$duration" -le 600 ]]; then
    echo "demo: DURATION must be whole seconds, 1 to 600 (got '$duration')" >&2
    exit 1
fi
for tool in ip nft tcpreplay jq dotnet; do
    command -v "$tool" >/dev/null || { echo "demo: '$tool' is missing; run packaging/install-deps.sh" >&2; exit 1; }
done
for dll in "$daemon_dll" "$ctl_dll"; do
    [ -f "$dll" ] || { echo "demo: $dll is missing; run 'make build' first" >&2; exit 1; }
done

# The lab: A sends, B runs shaperd. Names carry our PID so that two demos (or a leftover) never collide.
ns_a="shaper-demo-$$-a"
ns_b="shaper-demo-$$-b"
work=$(mktemp -d /tmp/shaper-demo.XXXXXX)
sock="$work/shaperd.sock"
daemon_pid=""
traffic_pid=""
watch_pid=""
interrupted=0

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "$watch_pid" "$traffic_pid"; do
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        # As systemd would (TimeoutStopSec=10s): SIGTERM, and SIGKILL after 10 s.
        echo "demo: stopping shaperd"
        kill -TERM "$daemon_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$daemon_pid" 2>/dev/null; then
            echo "demo: shaperd did not stop within 10 s of SIGTERM; killed it (its namespace goes anyway)"
            kill -KILL "$daemon_pid" 2>/dev/null || true
            for _ in $(seq 20); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
        fi
    fi
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -rf "$work"
    echo "demo: stopped shaperd, deleted $ns_a and $ns_b"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ctl() { dotnet "$ctl_dll" --socket "$sock" "$@"; }

# Sources. Polite: 20 addresses, 5 packets a second to each port, a quarter of either limit.
# Abusive: 5 flooders of the kernel rule's port and 5 of the observe rule's, 200 packets a second each.
polite=() flood_kernel=() flood_observe=()
for i in $(seq 1 20); do polite+=("198.18.10.$i"); done
for i in $(seq 1 5); do flood_kernel+=("198.18.20.$i"); flood_observe+=("198.18.30.$i"); done
polite_pps=5
abusive_pps=200

echo "demo: creating namespaces $ns_a (traffic) and $ns_b (shaperd)"
ip netns add "$ns_a"
ip netns add "$ns_b"
# Both veth ends are created inside the namespaces: nothing appears in the host's own namespace.
ip -n "$ns_a" link add va type veth peer name vb netns "$ns_b"
ip -n "$ns_a" link set va address 02:00:00:00:00:01
ip -n "$ns_b" link set vb address 02:00:00:00:00:02
ip -n "$ns_a" addr add 198.18.0.1/15 dev va
ip -n "$ns_b" addr add 198.18.0.2/15 dev vb
{
    # The sources live in A too, so B's answers (ICMP port unreachable) have somewhere to go.
    for src in "${polite[@]}" "${flood_kernel[@]}" "${flood_observe[@]}"; do echo "addr add $src/32 dev va"; done
} | ip -n "$ns_a" -batch -
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set va up
ip -n "$ns_b" link set vb up

# The demo's own table in B counts, per source and port, what arrived (priority -20, before shaper's -10)
# and what got through (priority 10, after it): the kernel's view, independent of the daemon's counters.
ip netns exec "$ns_b" nft -f - <<'NFT'
table inet shaper_demo {
    set arrived { type ipv4_addr . inet_service; size 65536; flags dynamic; counter; }
    set through { type ipv4_addr . inet_service; size 65536; flags dynamic; counter; }
    chain before { type filter hook input priority -20; policy accept; udp dport { 7000, 7001 } update @arrived { ip saddr . udp dport }; }
    chain after { type filter hook input priority 10; policy accept; udp dport { 7000, 7001 } update @through { ip saddr . udp dport }; }
}
NFT

# The configuration: the packaged default with capture on the lab's interface and the socket and state in our
# temporary directory, then the demo rules. Each substitution is checked so that a change to shaper.toml that
# breaks it fails here, not as a puzzling demo.
sed -e "s|^interface = \"[^\"]*\"|interface = \"vb\"|" \
    -e "s|^socket = \"[^\"]*\"|socket = \"$sock\"|" \
    -e "s|^state_dir = \"[^\"]*\"|state_dir = \"$work/state\"|" \
    packaging/shaper.toml > "$work/shaper.toml"
for want in 'interface = "vb"' "socket = \"$sock\"" "state_dir = \"$work/state\""; do
    grep -qF "$want" "$work/shaper.toml" || { echo "demo: could not set '$want' in a copy of packaging/shaper.toml" >&2; exit 1; }
done
cat packaging/demo/demo.toml >> "$work/shaper.toml"
ctl rules validate "$work/shaper.toml"

# The traffic: one second of it as a pcap, which tcpreplay sends from A over and over for DURATION seconds.
# Ethernet/IPv4/UDP frames of 60 bytes to B's MAC and 198.18.0.2, written with printf (no python needed).
le32() { printf -v "$1" '\\x%02x\\x%02x\\x%02x\\x%02x' $(($2 & 255)) $(($2 >> 8 & 255)) $(($2 >> 16 & 255)) $(($2 >> 24 & 255)); }
frame() { # frame VAR SRC PORT: the 60-byte frame as printf escapes
    local var=$1 port=$3 o1 o2 o3 o4 sum hex=""
    IFS=. read -r o1 o2 o3 o4 <<< "$2"
    # IPv4 header checksum: the ones' complement sum of its 16-bit words (198.18.0.2 is c612 0002).
    sum=$((0x4500 + 46 + 0x4011 + (o1 << 8 | o2) + (o3 << 8 | o4) + 0xc612 + 0x0002))
    sum=$(((sum & 0xffff) + (sum >> 16)))
    sum=$(((sum & 0xffff) + (sum >> 16)))
    sum=$((~sum & 0xffff))
    local bytes=(2 0 0 0 0 2  2 0 0 0 0 1  8 0
                 0x45 0 0 46 0 0 0 0 64 17 $((sum >> 8)) $((sum & 255)) "$o1" "$o2" "$o3" "$o4" 198 18 0 2
                 $((40000 >> 8)) $((40000 & 255)) $((port >> 8)) $((port & 255)) 0 26 0 0
                 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)
    printf -v hex '\\x%02x' "${bytes[@]}"
    printf -v "$var" '%s' "$hex"
}
write_pcap() {
    local out=$1 flows=() events=() i t pps period n src port f ts len
    for src in "${polite[@]}"; do flows+=("$src 7000 $polite_pps" "$src 7001 $polite_pps"); done
    for src in "${flood_kernel[@]}"; do flows+=("$src 7000 $abusive_pps"); done
    for src in "${flood_observe[@]}"; do flows+=("$src 7001 $abusive_pps"); done
    local frames=()
    for i in "${!flows[@]}"; do
        read -r src port pps <<< "${flows[$i]}"
        frame f "$src" "$port"
        frames+=("$f")
        period=$((1000000000 / pps))
        # Evenly spaced, each flow at its own phase so that the sources interleave.
        for ((n = 0; n < pps; n++)); do events+=("$(((i * 7919) % period + n * period)) $i"); done
    done
    le32 len 60
    {
        printf '\x4d\x3c\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00'
        while read -r t i; do
            le32 ts "$t"
            printf "\\x00\\x00\\x00\\x00${ts}${len}${len}${frames[$i]}"
        done < <(printf '%s\n' "${events[@]}" | sort -n)
    } > "$out"
}
write_pcap "$work/traffic.pcap"
packets_per_loop=$(( ${#polite[@]} * 2 * polite_pps + (${#flood_kernel[@]} + ${#flood_observe[@]}) * abusive_pps ))

echo "demo: starting shaperd in $ns_b (log: shaperd.log in $work while it runs)"
# In a session of its own, so that Ctrl-C reaches the demo (for its summary) and not the daemon.
setsid ip netns exec "$ns_b" dotnet "$daemon_dll" --config "$work/shaper.toml" > "$work/shaperd.log" 2>&1 < /dev/null &
daemon_pid=$!
disown "$daemon_pid"  # its end is ours to report, not bash's
for _ in $(seq 300); do
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        echo "demo: shaperd exited:" >&2; cat "$work/shaperd.log" >&2; exit 1
    fi
    [ -S "$sock" ] && ctl --timeout 1 status >/dev/null 2>&1 && break
    sleep 0.1
done
ctl --json status > "$work/status.json" || { echo "demo: shaperd did not answer in 30 s:" >&2; cat "$work/shaperd.log" >&2; exit 1; }
jq -r '"demo: shaperd \(.version) is running: \(.rules) rules, backend \(.backend), capture on \(.capture)"' "$work/status.json"

seconds=${duration:-600}
echo "demo: sending from $ns_a for ${seconds} s at most: ${#polite[@]} polite sources at ${polite_pps}/s to UDP 7000 and 7001," \
     "${#flood_kernel[@]} flooding 7000 and ${#flood_observe[@]} flooding 7001 at ${abusive_pps}/s ($packets_per_loop packets/s in all)"
traffic_start_ms=$(date +%s%3N)
# Bounded twice: by the loop count and by the clock (tcpreplay pauses between loops, so the clock ends it).
setsid timeout "$seconds" ip netns exec "$ns_a" tcpreplay -q --preload-pcap -i va --loop=$((seconds * 2)) "$work/traffic.pcap" > "$work/tcpreplay.log" 2>&1 &
traffic_pid=$!

if [ -z "$duration" ]; then
    # Interactive: the watch until Ctrl-C (or the traffic ends), then the summary. Ctrl-C from here on
    # only ends the watch: the summary and the cleanup still run.
    trap 'interrupted=1' INT
    echo "demo: press Ctrl-C to stop and see the summary"
    sleep 2 || true
    dotnet "$ctl_dll" --socket "$sock" counters --watch --top 8 &
    watch_pid=$!
    while kill -0 "$traffic_pid" 2>/dev/null && [ "$interrupted" -eq 0 ]; do sleep 0.5 || true; done
    kill "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
    watch_pid=""
elif [ -t 1 ]; then
    timeout --foreground "$duration" dotnet "$ctl_dll" --socket "$sock" counters --watch --top 8 || true
else
    # Unattended without a terminal: a snapshot every 5 s instead of a redraw every second.
    for ((t = 5; t <= duration; t += 5)); do
        sleep 5
        echo "--- ${t} s"
        ctl counters --top 3
    done
    sleep $((duration % 5))
fi
# Unattended, the traffic ends by itself after DURATION seconds; interactive, it ends here.
if [ -z "$duration" ]; then kill "$traffic_pid" 2>/dev/null || true; fi
wait "$traffic_pid" 2>/dev/null || true
traffic_pid=""
traffic_ms=$(($(date +%s%3N) - traffic_start_ms))
sleep 1

# The summary: the daemon's counters and blocks, and the demo table's per-source kernel counts.
if ! ctl --json counters --top 1000 > "$work/counters.json" || ! ctl --json block list > "$work/blocks.json"; then
    echo "demo: FAILED: shaperd did not answer for the summary; its log:" >&2
    tail -n 30 "$work/shaperd.log" >&2
    exit 1
fi
tally() { # tally SET: "source port packets" lines
    ip netns exec "$ns_b" nft -j list set inet shaper_demo "$1" |
        jq -r '.nftables[] | .set? // empty | .elem[]? | .elem | "\(.val.concat[0]) \(.val.concat[1]) \(.counter.packets)"'
}
declare -A arrived through
while read -r src port count; do arrived["$src $port"]=$count; done < <(tally arrived)
while read -r src port count; do through["$src $port"]=$count; done < <(tally through)
blocked=$(jq -r '.blocks[]' "$work/blocks.json")

failures=()
check() { if ! eval "$2"; then failures+=("$1"); fi; }
is_blocked() { grep -qE "(^|[^0-9.])${1//./\\.}(/32)?([^0-9.]|$)" <<< "$blocked"; }

# One line per group of sources: packets that arrived, got through, were dropped; how many sources lost any.
group_line() { # group_line LABEL PORT SOURCES...
    local label=$1 port=$2 src a th sum_a=0 sum_t=0 touched=0 nblocked=0 max_t=0
    shift 2
    for src in "$@"; do
        a=${arrived["$src $port"]:-0} th=${through["$src $port"]:-0}
        sum_a=$((sum_a + a)) sum_t=$((sum_t + th))
        [ "$th" -lt "$a" ] && touched=$((touched + 1))
        [ "$th" -gt "$max_t" ] && max_t=$th
        if is_blocked "$src"; then nblocked=$((nblocked + 1)); fi
    done
    printf '  %-30s %3d sources  arrived %7d  through %7d  dropped %7d  sources dropped from %2d  blocked %2d\n' \
        "$label" "$#" "$sum_a" "$sum_t" "$((sum_a - sum_t))" "$touched" "$nblocked"
    group_arrived=$sum_a group_through=$sum_t group_touched=$touched group_blocked=$nblocked group_max=$max_t
}

echo
echo "================ demo summary ================"
jq -r '.rules[] | "rule \(.name) (\(.enforce)): passed \(.passed), limited \(.limited), keys tracked \(.keys_tracked)"' "$work/counters.json"
echo "blocked sources ($(grep -c . <<< "$blocked" || true)):"
sed 's/^/  /' <<< "${blocked:-(none)}"
echo
echo "demo-kernel (UDP 7000, token bucket 20/s burst 10 per source, nftables meter), kernel counts per source:"
group_line "polite (5/s each)" 7000 "${polite[@]}"
check "demo-kernel: a polite source lost packets" '[ "$group_touched" -eq 0 ] && [ "$group_arrived" -gt 0 ]'
group_line "abusive (200/s each)" 7000 "${flood_kernel[@]}"
check "demo-kernel: not every flooder was limited" '[ "$group_touched" -eq "${#flood_kernel[@]}" ]'
check "demo-kernel: flooders got more than a third through" '[ "$((group_through * 3))" -lt "$group_arrived" ]'
# A token bucket passes at most rate x t + burst in t; t is the traffic's wall time, an upper bound.
kernel_bound=$(((20 * traffic_ms + 999) / 1000 + 10))
echo "  the most any flooder got through: $group_max; the bucket allows at most 20/s x $((traffic_ms / 1000)).$((traffic_ms % 1000 / 100)) s + 10 = $kernel_bound"
check "demo-kernel: a flooder got $group_max through, more than the bucket allows ($kernel_bound)" '[ "$group_max" -le "$kernel_bound" ]'
echo
echo "demo-observe (UDP 7001, sliding window 50/s per source, then a kernel block), kernel counts per source:"
group_line "polite (5/s each)" 7001 "${polite[@]}"
check "demo-observe: a polite source lost packets or was blocked" '[ "$group_touched" -eq 0 ] && [ "$group_blocked" -eq 0 ] && [ "$group_arrived" -gt 0 ]'
group_line "abusive (200/s each)" 7001 "${flood_observe[@]}"
check "demo-observe: not every flooder was blocked" '[ "$group_blocked" -eq "${#flood_observe[@]}" ]'
check "demo-observe: flooders got more than a third through" '[ "$((group_through * 3))" -lt "$group_arrived" ]'

kernel_limited=$(jq '[.rules[] | select(.name == "demo-kernel") | .limited] | add // 0' "$work/counters.json")
observe_polite_limited=$(jq '[.rules[] | select(.name == "demo-observe") | .keys[] | select(.key | startswith("198.18.10.")) | .limited] | add // 0' "$work/counters.json")
check "shaperctl counters: demo-kernel limited nothing" '[ "$kernel_limited" -gt 0 ]'
check "shaperctl counters: demo-observe limited a polite source" '[ "$observe_polite_limited" -eq 0 ]'
echo
if [ "${#failures[@]}" -gt 0 ]; then
    printf 'demo: FAILED: %s\n' "${failures[@]}" >&2
    echo "demo: shaperd's log:" >&2
    tail -n 30 "$work/shaperd.log" >&2
    exit 1
fi
echo "demo: OK: the abusive sources were limited (7000) and blocked (7001); the polite ones lost nothing"
