# qmempool-kit guest: packet scenarios. Sourced by init.sh (busybox sh) in
# benchmark boots when the command line has qk_net=<list>; uses its param(),
# $BB, $moddir and $status. Each scenario prints one QK-BENCH line in suite
# "net": ns per packet for each sample, the settings, the counters that
# prove the packets took the scenario's path, and the sk_buff pool's
# counters. A scenario whose counters show another path prints status
# "error" with the reason and fails the boot.
#
#   pktgen_drop     pktgen (xmit_mode netif_receive) into dummy0, dropped
#                   in the iptables raw table's PREROUTING chain
#   pktgen_forward  the same, IP-forwarded out of dummy1
#   pktgen_udp      the same, delivered to a local UDP socket that reads
#                   and discards (on another CPU where there is one)
#   tcp_stream      control: a TCP stream over loopback; its data skbs are
#                   fclones, which the pool does not serve (ACKs are not)
#   virtio_drop     a UDP flood from the host (qk-net flood, started by the
#   virtio_forward  host when the guest prints "QK-NET {...}") into eth0
#                   (virtio-net on QEMU's dgram backend, loopback only),
#                   dropped in the raw table or forwarded out of dummy1;
#                   QEMU backends only
#
# Parameters: qk_net=drop,forward,udp,tcp,virtio_drop,virtio_forward;
# qk_net_count (packets per pktgen sample), qk_net_samples (samples per
# scenario), qk_net_bytes (per TCP sample), qk_net_vcount and
# qk_net_vseconds (frames and at most seconds per virtio flood);
# qk_net_break=<scenario> leaves that scenario's path unset (the raw rule,
# forwarding, the socket) to check that the check fails.

netdir=${moddir%/modules}
QKNET=$netdir/qk-net
PG=/proc/net/pktgen
net_count=$(param net_count || echo 100000)
net_samples=$(param net_samples || echo 5)
net_bytes=$(param net_bytes || echo 134217728)
net_break=$(param net_break || echo none)
net_vcount=$(param net_vcount || echo 200000)
net_vseconds=$(param net_vseconds || echo 5)
# virtio: the guest's NIC (QEMU's -device mac=) and the host sender's.
VIRTIO_MAC=52:54:00:12:34:56
VIRTIO_PEER_MAC=52:54:00:00:00:01
VIRTIO_ADDR=10.99.1.1
VIRTIO_CTRL_PORT=7
NET_SRC=203.0.113.7
NET_FWD_DST=198.51.100.1
NET_LOCAL=10.99.0.1
NET_UDP_PORT=9
NET_WHY=/tmp/qk-net-why
ncpus=$($BB grep -c ^processor /proc/cpuinfo)
# iproute2's ip where the image has it: busybox's applet (which its sh
# prefers for a bare "ip") has no "ip neigh replace".
IPR=ip
for p in /usr/sbin/ip /sbin/ip /bin/ip; do
	[ -x "$p" ] && IPR=$p && break
done
# UML's root is the host's, whose "iptables" may be the nft variant.
IPT=iptables
command -v iptables-legacy >/dev/null 2>&1 && IPT=iptables-legacy

net_fail() {
	echo "qk-net: $*"
	return 1
}

# raw_rule CASE RULE...: add a raw-table PREROUTING rule. A kernel without
# legacy iptables (on 7.x, NETFILTER_XTABLES_LEGACY depends on !PREEMPT_RT,
# so Debian's RT kernel has none) skips CASE and says why; any other
# failure is an error.
raw_rule() {
	rcase=$1
	shift
	$IPT -t raw -A PREROUTING "$@" 2>/tmp/ipt.err && return 0
	if [ ! -e /proc/net/ip_tables_names ]; then
		echo "QK-BENCH {\"suite\":\"net\",\"case\":\"$rcase\",\"status\":\"skip\",\"reason\":\"this kernel has no legacy iptables (no /proc/net/ip_tables_names; on 7.x NETFILTER_XTABLES_LEGACY depends on !PREEMPT_RT)\"}"
		return 1
	fi
	net_emit "$rcase" "" "" "{}" "[]" "{}" "cannot add the raw-table rule with $IPT: $($BB head -n 1 /tmp/ipt.err | $BB tr -d '\\"')"
	return 1
}

# snmp PROTO FIELD: one counter of /proc/net/snmp.
snmp() {
	$BB awk -v p="$1:" -v f="$2" '$1 == p {
		if (!c) { for (i = 2; i <= NF; i++) if ($i == f) c = i; next }
		print $c; exit }' /proc/net/snmp
}

devstat() {
	$BB cat "/sys/class/net/$1/statistics/$2"
}

# Packets counted by the first rule of the raw table's PREROUTING chain.
raw_pkts() {
	$IPT -t raw -L PREROUTING -n -v -x 2>/dev/null | $BB awk 'NR == 3 { print $1; exit }'
}

# The pool's counters as "key value" lines (qk_skbpool.ko).
pool_read() {
	$BB cat /proc/qk_skb_pool 2>/dev/null || echo "state unavailable"
}

# pool_json BEFORE AFTER: state, and each counter's change (cached: after).
pool_json() {
	printf '%s\n--\n%s\n' "$1" "$2" | $BB awk '
		$0 == "--" { after = 1; next }
		!after { b[$1] = $2; next }
		$1 == "state" { s = s sep "\"state\":\"" $2 "\""; sep = ","; next }
		$1 == "cached" { s = s sep "\"cached\":" $2; sep = ","; next }
		{ s = s sep "\"" $1 "\":" ($2 - b[$1]); sep = "," }
		END { print "{" s "}" }'
}

net_setup() {
	$BB insmod "$moddir/dummy.ko" numdummies=2 || return 1
	$BB insmod "$moddir/pktgen.ko" || return 1
	$BB insmod "$moddir/qk_skbpool.ko" || return 1
	ip link set lo up &&
		ip link set dummy0 up && ip addr add $NET_LOCAL/24 dev dummy0 &&
		ip link set dummy1 up && ip addr add 10.98.0.1/24 dev dummy1 &&
		ip route add 198.51.100.0/24 dev dummy1 || return 1
	# Sources from a non-local subnet: no martians, no reverse-path drop.
	for c in all default dummy0 dummy1; do
		$BB sysctl -q -w "net.ipv4.conf.$c.rp_filter=0" >/dev/null || return 1
	done
	# No IPv6 chatter (router solicitations, MLD) in the devices' counters.
	for c in dummy0 dummy1 eth0; do
		[ -e "/proc/sys/net/ipv6/conf/$c" ] &&
			$BB sysctl -q -w "net.ipv6.conf.$c.disable_ipv6=1" >/dev/null
	done
	$BB sysctl -q -w net.ipv4.ip_forward=0 >/dev/null
	echo "rem_device_all" >$PG/kpktgend_0 &&
		echo "add_device dummy0" >$PG/kpktgend_0 || return 1
	NET_MAC=$($BB cat /sys/class/net/dummy0/address)
}

# pktgen_conf DST: the settings, recorded with every result.
pktgen_conf() {
	d=$PG/dummy0
	for s in "count $net_count" "pkt_size 60" "clone_skb 0" "burst 1" \
		"delay 0" "xmit_mode netif_receive" "dst $1" "dst_mac $NET_MAC" \
		"src_min $NET_SRC" "src_max $NET_SRC" \
		"udp_src_min $NET_UDP_PORT" "udp_src_max $NET_UDP_PORT" \
		"udp_dst_min $NET_UDP_PORT" "udp_dst_max $NET_UDP_PORT"; do
		echo "$s" >$d || { net_fail "pktgen rejected \"$s\""; return 1; }
	done
	NET_SETTINGS="{\"xmit_mode\":\"netif_receive\",\"device\":\"dummy0\",\"thread_cpu\":0,\"count\":$net_count,\"pkt_size\":60,\"frame_bytes\":64,\"clone_skb\":0,\"burst\":1,\"delay\":0,\"src\":\"$NET_SRC\",\"dst\":\"$1\",\"udp_port\":$NET_UDP_PORT}"
}

# One pktgen run; sets PG_USEC, PG_SENT, PG_ERR.
pktgen_run() {
	echo start >$PG/pgctrl || { net_fail "pktgen start failed"; return 1; }
	r=$($BB grep -A1 '^Result:' $PG/dummy0)
	case "$r" in
	"Result: OK:"*) ;;
	*) net_fail "pktgen: ${r:-no result}"; return 1 ;;
	esac
	PG_USEC=$(echo "$r" | $BB sed -n 's/^Result: OK: \([0-9]*\)(.*/\1/p')
	PG_SENT=$(echo "$r" | $BB sed -n 's/.* usec, \([0-9]*\) (.*/\1/p')
	PG_ERR=$(echo "$r" | $BB sed -n 's/.*errors: \([0-9]*\).*/\1/p')
	[ -n "$PG_USEC" ] && [ -n "$PG_SENT" ] && [ "$PG_SENT" -gt 0 ] ||
		{ net_fail "cannot read pktgen's result: $r"; return 1; }
}

# net_add_sample NS N: a sample of N units in NS nanoseconds, appended to
# $samples (ns per unit) and $pps.
net_add_sample() {
	samples="$samples$sep$($BB awk -v t="$1" -v n="$2" 'BEGIN { printf "%.3f", t / n }')"
	pps="$pps$sep$($BB awk -v t="$1" -v n="$2" 'BEGIN { printf "%.0f", n * 1e9 / t }')"
	sep=,
}

# net_emit CASE SAMPLES PPS SETTINGS COUNTERS POOL [ERROR]; NET_PER names
# what one timed unit is (default packet), NET_LOOPS how many a sample has.
net_emit() {
	if [ -n "$7" ]; then
		echo "QK-BENCH {\"suite\":\"net\",\"case\":\"$1\",\"status\":\"error\",\"reason\":\"$7\",\"settings\":$4,\"counters\":$5,\"pool\":$6}"
		status=1
	else
		echo "QK-BENCH {\"suite\":\"net\",\"case\":\"$1\",\"group\":\"net\",\"param\":1,\"unit\":\"ns\",\"per\":\"${NET_PER:-packet}\",${NET_LOOPS:+\"loops\":$NET_LOOPS,}\"samples\":[$2],\"pps\":[$3],\"settings\":$4,\"counters\":$5,\"pool\":$6}"
	fi
}

# net_pktgen CASE DST: the samples of one pktgen scenario. The caller has
# set the path up and defines path_before and path_check (which prints
# the counters as JSON members and, on a wrong path, writes why to $NET_WHY
# and returns 1).
net_pktgen() {
	pktgen_conf "$2" || return 1
	samples= pps= counters= err= sep=
	p0=$(pool_read)
	i=0
	$BB rm -f $NET_WHY
	while [ $i -lt "$net_samples" ]; do
		path_before
		pktgen_run || { err="pktgen did not run (see the console)"; break; }
		c=$(path_check) || {
			err="sample $((i + 1)): $($BB cat $NET_WHY)"
			counters="$counters$sep{$c}"
			break
		}
		counters="$counters$sep{$c,\"pktgen_sent\":$PG_SENT,\"pktgen_errors\":$PG_ERR,\"usec\":$PG_USEC}"
		net_add_sample $((PG_USEC * 1000)) "$PG_SENT"
		i=$((i + 1))
	done
	NET_PER=packet NET_LOOPS=$net_count net_emit "$1" "$samples" "$pps" "$NET_SETTINGS" "[$counters]" "$(pool_json "$p0" "$(pool_read)")" "$err"
}

# Each check below fails when fewer packets than pktgen sent took the path.
drop_before() {
	$IPT -t raw -Z PREROUTING 2>/dev/null
}
drop_check() {
	n=$(raw_pkts)
	echo "\"raw_drop\":${n:-0}"
	[ "${n:-0}" -eq "$PG_SENT" ] && return 0
	echo "the raw-table DROP rule counted ${n:-0} of $PG_SENT packets: they did not take the drop path" | $BB tee $NET_WHY | $BB sed 's/^/qk-net: /' >&2
	return 1
}

fwd_before() {
	F0=$(snmp Ip ForwDatagrams)
	T0=$(devstat dummy1 tx_packets)
}
fwd_check() {
	f=$(($(snmp Ip ForwDatagrams) - F0))
	t=$(($(devstat dummy1 tx_packets) - T0))
	echo "\"ip_forwarded\":$f,\"dummy1_tx\":$t"
	# Whatever else leaves dummy1 adds to its count: at least, not exactly.
	[ "$f" -eq "$PG_SENT" ] && [ "$t" -ge "$PG_SENT" ] && return 0
	echo "$f of $PG_SENT packets forwarded, $t sent out of dummy1: they did not take the forwarding path" | $BB tee $NET_WHY | $BB sed 's/^/qk-net: /' >&2
	return 1
}

# A datagram the socket cannot take counts in InErrors: also in
# RcvbufErrors when its buffer is full, but in MemErrors when 7.x's
# batched enqueue cannot charge its memory (SKB_DROP_REASON_PROTO_MEM),
# so the check sums InErrors.
udp_before() {
	U0=$(snmp Udp InDatagrams)
	E0=$(snmp Udp InErrors)
	B0=$(snmp Udp RcvbufErrors)
	N0=$(snmp Udp NoPorts)
}
udp_check() {
	# InDatagrams counts what the reader took (recvmsg), so what is still
	# queued when pktgen ends is not counted yet: give the reader up to 5 s
	# to empty the queue (outside the timed part).
	j=0
	while u=$(($(snmp Udp InDatagrams) - U0)) && e=$(($(snmp Udp InErrors) - E0)) &&
		[ $((u + e)) -lt "$PG_SENT" ] && [ $j -lt 50 ]; do
		$BB usleep 100000
		j=$((j + 1))
	done
	b=$(($(snmp Udp RcvbufErrors) - B0))
	n=$(($(snmp Udp NoPorts) - N0))
	echo "\"udp_delivered\":$u,\"udp_in_errors\":$e,\"udp_rcvbuf_errors\":$b,\"udp_no_port\":$n"
	[ "$u" -gt 0 ] && [ $((u + e)) -eq "$PG_SENT" ] && return 0
	echo "$u of $PG_SENT packets delivered to the UDP socket ($e dropped there, $b of them at its buffer; $n with no socket): they did not take the local-delivery path" | $BB tee $NET_WHY | $BB sed 's/^/qk-net: /' >&2
	return 1
}

net_drop() {
	# -d keeps the rule to the test's packets.
	if [ "$net_break" != drop ] &&
		! raw_rule pktgen_drop -i dummy0 -d $NET_LOCAL -p udp --dport $NET_UDP_PORT -j DROP; then
		return
	fi
	path_before() { drop_before; }
	path_check() { drop_check; }
	net_pktgen pktgen_drop $NET_LOCAL
	$IPT -t raw -F PREROUTING
}

net_forward() {
	[ "$net_break" = forward ] || $BB sysctl -q -w net.ipv4.ip_forward=1 >/dev/null
	path_before() { fwd_before; }
	path_check() { fwd_check; }
	net_pktgen pktgen_forward $NET_FWD_DST
	$BB sysctl -q -w net.ipv4.ip_forward=0 >/dev/null
}

net_udp() {
	sink=
	if [ "$net_break" != udp ]; then
		# On another CPU than pktgen's thread (CPU 0) where there is one:
		# the socket's reader frees what the receive path allocated.
		cpu=$((ncpus > 1 ? 1 : 0))
		$BB taskset -c $cpu "$QKNET" udp-sink $NET_UDP_PORT >/tmp/udp-sink.out 2>&1 &
		sink=$!
		j=0
		until $BB grep -q ready /tmp/udp-sink.out 2>/dev/null || [ $j -ge 50 ]; do
			$BB usleep 100000
			j=$((j + 1))
		done
	fi
	path_before() { udp_before; }
	path_check() { udp_check; }
	net_pktgen pktgen_udp $NET_LOCAL
	if [ -n "$sink" ]; then
		kill "$sink"
		wait "$sink"
		$BB cat /tmp/udp-sink.out
	fi
}

net_tcp() {
	samples= pps= counters= err= sep=
	# Ethernet-sized segments, not loopback's 64 KiB ones.
	ip link set lo mtu 1500
	p0=$(pool_read)
	i=0
	while [ $i -lt "$net_samples" ]; do
		o0=$(snmp Tcp OutSegs)
		r=$("$QKNET" tcp-stream 5001 "$net_bytes" 2>&1)
		segs=$(($(snmp Tcp OutSegs) - o0))
		ns=$(echo "$r" | $BB sed -n 's/^tcp-stream: [0-9]* bytes in \([0-9]*\) ns$/\1/p')
		if [ -z "$ns" ] || [ "$segs" -le 0 ]; then
			err="sample $((i + 1)): the TCP stream failed ($r; $segs segments)"
			break
		fi
		counters="$counters$sep{\"tcp_out_segments\":$segs,\"bytes\":$net_bytes,\"ns\":$ns}"
		net_add_sample "$ns" "$segs"
		i=$((i + 1))
	done
	ip link set lo mtu 65536
	NET_PER=segment NET_LOOPS= net_emit tcp_stream "$samples" "$pps" "{\"transport\":\"tcp over loopback\",\"mtu\":1500,\"bytes\":$net_bytes,\"write_size\":65536,\"per\":\"TCP segment sent (data and ACKs)\"}" "[$counters]" "$(pool_json "$p0" "$(pool_read)")" "$err"
}

virtio_ready=
virtio_setup() {
	[ -n "$virtio_ready" ] && return 0
	ip link set eth0 up && ip addr add $VIRTIO_ADDR/24 dev eth0 &&
		ip route add 203.0.113.0/24 dev eth0 &&
		$IPR neigh replace $NET_SRC lladdr $VIRTIO_PEER_MAC dev eth0 nud permanent &&
		$BB sysctl -q -w net.ipv4.conf.eth0.rp_filter=0 >/dev/null || return 1
	virtio_ready=1
}

# net_virtio drop|forward: floods from the host, one per sample.
net_virtio() {
	vcase=virtio_$1
	if [ ! -d /sys/class/net/eth0 ]; then
		echo "QK-BENCH {\"suite\":\"net\",\"case\":\"$vcase\",\"status\":\"skip\",\"reason\":\"no virtio-net device: QEMU backends only (UML has none)\"}"
		return
	fi
	if ! virtio_setup; then
		net_emit "$vcase" "" "" "{}" "[]" "{}" "cannot set up eth0 (virtio-net)"
		return
	fi
	vdst=$VIRTIO_ADDR
	if [ "$1" = drop ]; then
		[ "$net_break" = "$vcase" ] ||
			raw_rule "$vcase" -i eth0 -d $VIRTIO_ADDR -p udp --dport $NET_UDP_PORT -j DROP || return
	else
		vdst=$NET_FWD_DST
		[ "$net_break" = "$vcase" ] || $BB sysctl -q -w net.ipv4.ip_forward=1 >/dev/null
	fi
	settings="{\"transport\":\"host UDP socket -> QEMU -netdev dgram (127.0.0.1) -> virtio-net\",\"frames_per_flood\":$net_vcount,\"max_seconds\":$net_vseconds,\"frame_bytes\":64,\"src\":\"$NET_SRC\",\"dst\":\"$vdst\",\"udp_port\":$NET_UDP_PORT}"
	samples= pps= counters= err= sep=
	p0=$(pool_read)
	i=0
	while [ $i -lt "$net_samples" ]; do
		"$QKNET" virtio-recv $VIRTIO_CTRL_PORT $((net_vseconds + 90)) /sys/class/net/eth0/statistics/rx_packets >/tmp/virtio.out 2>&1 &
		vpid=$!
		j=0
		until $BB grep -q ready /tmp/virtio.out 2>/dev/null || [ $j -ge 50 ]; do
			$BB usleep 100000
			j=$((j + 1))
		done
		r0=$(devstat eth0 rx_packets)
		x0=$(devstat eth0 rx_dropped)
		$IPT -t raw -Z PREROUTING 2>/dev/null
		F0=$(snmp Ip ForwDatagrams)
		T0=$(devstat dummy1 tx_packets)
		# The host's cue: it floods, then sends its counts in QKEND.
		echo "QK-NET {\"flood\":\"$vcase\",\"sample\":$((i + 1)),\"count\":$net_vcount,\"max_seconds\":$net_vseconds,\"src_mac\":\"$VIRTIO_PEER_MAC\",\"dst_mac\":\"$VIRTIO_MAC\",\"src\":\"$NET_SRC\",\"dst\":\"$vdst\",\"port\":$NET_UDP_PORT,\"ctrl\":\"$VIRTIO_ADDR\",\"ctrl_port\":$VIRTIO_CTRL_PORT}"
		wait $vpid
		vrc=$?
		out=$($BB cat /tmp/virtio.out)
		rxd=$(($(devstat eth0 rx_dropped) - x0))
		if [ "$1" = drop ]; then
			path=$(raw_pkts)
			path=${path:-0}
		else
			path=$(($(snmp Ip ForwDatagrams) - F0))
		fi
		vals=$(echo "$out" | $BB sed -n 's/^virtio: start_ns \([0-9]*\) last_ns \([0-9]*\) end_ns [0-9]* ctrl \([0-9]*\) rx \([0-9]*\) host sent \([0-9]*\) markers \([0-9]*\) qemu_socket_drops \([0-9]*\) host_ns \([0-9]*\)$/\1 \2 \3 \4 \5 \6 \7 \8/p')
		if [ "$vrc" != 0 ] || [ -z "$vals" ]; then
			err="sample $((i + 1)): no complete flood from the host (${out:-nothing received})"
			break
		fi
		set -- "$1" $vals
		# $2 start, $3 last (guest ns), $4 marker datagrams received
		# (QKEND included), $5 eth0 rx_packets at QKEND, $6 data frames
		# sent, $7 other frames sent before the host read $8, QEMU's
		# socket drops; $9 host ns. Frames, step by step (all of them,
		# markers included): host -> QEMU's socket -> eth0.
		rxq=$(($5 - r0 - 1))
		data=$(($5 - r0 - $4))
		c="\"host_sent\":$6,\"host_frames\":$(($6 + $7)),\"qemu_socket_drops\":$8,\"lost_in_qemu\":$(($6 + $7 - $8 - rxq)),\"guest_frames\":$rxq,\"guest_rx\":$data,\"guest_rx_dropped\":$rxd,\"$1\":$path,\"host_ns\":$9,\"guest_window_ns\":$(($3 - $2))"
		if [ "$path" -le 0 ] || [ "$path" -ne "$data" ]; then
			counters="$counters$sep{$c}"
			err="sample $((i + 1)): $path of the $data data frames eth0 received took the $1 path"
			echo "qk-net: $err"
			break
		fi
		counters="$counters$sep{$c}"
		net_add_sample $(($3 - $2)) "$path"
		i=$((i + 1))
	done
	NET_PER=packet NET_LOOPS= net_emit "$vcase" "$samples" "$pps" "$settings" "[$counters]" "$(pool_json "$p0" "$(pool_read)")" "$err"
	$IPT -t raw -F PREROUTING
	$BB sysctl -q -w net.ipv4.ip_forward=0 >/dev/null
}

net_run() {
	if ! net_setup; then
		echo "QK-BENCH {\"suite\":\"net\",\"case\":\"setup\",\"status\":\"error\",\"reason\":\"the packet scenarios' setup failed (dummy, pktgen, addresses, routes; see the console)\"}"
		status=1
		return
	fi
	for s in $(echo "$1" | $BB tr , ' '); do
		case "$s" in
		drop) net_drop ;;
		forward) net_forward ;;
		udp) net_udp ;;
		tcp) net_tcp ;;
		virtio_drop) net_virtio drop ;;
		virtio_forward) net_virtio forward ;;
		*) net_fail "unknown scenario $s"; status=1 ;;
		esac
	done
}
