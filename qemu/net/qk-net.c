// SPDX-License-Identifier: GPL-2.0
/*
 * qk-net - the guest's side of qmempool-kit's packet scenarios, where
 * busybox falls short (its nc has no UDP and no clean end of stream):
 *
 *   qk-net now
 *	print CLOCK_MONOTONIC in nanoseconds
 *   qk-net udp-sink PORT
 *	bind UDP PORT on all addresses, print "ready", then read and discard
 *	datagrams until SIGTERM; print "udp-sink: N datagrams, B bytes"
 *   qk-net tcp-stream PORT BYTES
 *	over loopback: a receiver that reads and discards, a sender that
 *	writes BYTES in 64 KiB writes; print "tcp-stream: B bytes in N ns"
 *	(connect to the receiver's last read)
 *   qk-net virtio-recv PORT TIMEOUT
 *	in the guest: wait on UDP PORT for the host's markers around a flood
 *	(QKSTART, QKLAST, QKEND with the host's counts), answer QKEND with
 *	QKACK and print "virtio: start_ns S last_ns L end_ns E host <counts>"
 *   qk-net flood QEMU_PORT MY_PORT COUNT MAX_SECONDS SRC_MAC DST_MAC
 *		SRC_IP DATA_IP DATA_PORT CTRL_IP CTRL_PORT
 *	on the host: from 127.0.0.1:MY_PORT, send Ethernet frames (64 bytes
 *	on the wire) to QEMU's "-netdev dgram" socket at 127.0.0.1:QEMU_PORT:
 *	the markers (to CTRL_IP:CTRL_PORT), then COUNT UDP datagrams to
 *	DATA_IP:DATA_PORT (or as many as
 *	MAX_SECONDS allow); read how many QEMU's socket dropped from
 *	/proc/net/udp; send QKEND with the counts until the guest acknowledges;
 *	print the counts as one JSON object.  Bounded, loopback only.
 *
 * Built statically by the host (gcc -static); the guest image has a copy.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int die(const char *what)
{
	fprintf(stderr, "qk-net: %s: %s\n", what, strerror(errno));
	return 1;
}

/* A UDP socket bound to PORT on all addresses, announced with "ready". */
static int udp_bound(int port, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		die("socket");
		return -1;
	}
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		die("bind");
		close(fd);
		return -1;
	}
	printf("ready\n");
	fflush(stdout);
	return fd;
}

static int udp_sink(int port)
{
	static char buf[65536];
	unsigned long long n = 0, bytes = 0;
	struct sigaction sa = { .sa_handler = on_term };
	int fd;

	/* No SA_RESTART: SIGTERM must end a blocked recv(). */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = udp_bound(port, 4 << 20);
	if (fd < 0)
		return 1;
	while (!stop) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return die("recv");
		}
		n++;
		bytes += r;
	}
	printf("udp-sink: %llu datagrams, %llu bytes\n", n, bytes);
	return 0;
}

static int tcp_stream(int port, unsigned long long total)
{
	static char buf[65536];
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned long long t0, t1, sent = 0, got = 0;
	int lfd, cfd, sfd, one = 1, pipefd[2], status;
	pid_t pid;

	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0)
		return die("bind/listen");
	if (pipe(pipefd) < 0)
		return die("pipe");
	pid = fork();
	if (pid < 0)
		return die("fork");
	if (pid == 0) {
		/* Receiver: read to the end, report the bytes through the pipe. */
		close(pipefd[0]);
		cfd = accept(lfd, NULL, NULL);
		if (cfd < 0)
			_exit(die("accept"));
		for (;;) {
			ssize_t r = read(cfd, buf, sizeof(buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += r;
		}
		if (write(pipefd[1], &got, sizeof(got)) != sizeof(got))
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	close(lfd);
	memset(buf, 0x5a, sizeof(buf));
	sfd = socket(AF_INET, SOCK_STREAM, 0);
	if (sfd < 0)
		return die("socket");
	t0 = now_ns();
	if (connect(sfd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return die("connect");
	while (sent < total) {
		size_t len = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
		ssize_t w = write(sfd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return die("write");
		sent += w;
	}
	close(sfd);
	if (read(pipefd[0], &got, sizeof(got)) != sizeof(got))
		return die("receiver");
	t1 = now_ns();
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return die("receiver exit");
	if (got != sent) {
		fprintf(stderr, "qk-net: sent %llu bytes, received %llu\n", sent, got);
		return 1;
	}
	printf("tcp-stream: %llu bytes in %llu ns\n", got, t1 - t0);
	return 0;
}

/* ---- virtio-net flood from the host ---------------------------------- */

struct frame {
	unsigned char b[1514];
	size_t len;
};

static unsigned short ip_csum(const unsigned char *h, size_t len)
{
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (h[i] << 8) | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned short)~sum;
}

static int parse_mac(const char *s, unsigned char *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
		      &mac[2], &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

/* An Ethernet + IPv4 + UDP frame, no FCS; 60 bytes at least (64 on the wire). */
static void make_frame(struct frame *f, const unsigned char *src_mac,
		       const unsigned char *dst_mac, struct in_addr src,
		       struct in_addr dst, int sport, int dport,
		       const char *payload)
{
	size_t plen = strlen(payload), ulen = 8 + plen, ilen = 20 + ulen;
	unsigned char *ip = f->b + 14, *udp = ip + 20;
	unsigned short c;

	memset(f->b, 0, sizeof(f->b));
	memcpy(f->b, dst_mac, 6);
	memcpy(f->b + 6, src_mac, 6);
	f->b[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = ilen >> 8;
	ip[3] = ilen & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = ip_csum(ip, 20);
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	udp[0] = sport >> 8;
	udp[1] = sport & 0xff;
	udp[2] = dport >> 8;
	udp[3] = dport & 0xff;
	udp[4] = ulen >> 8;
	udp[5] = ulen & 0xff;
	memcpy(udp + 8, payload, plen);
	f->len = 14 + ilen < 60 ? 60 : 14 + ilen;
}

/* Drops counted on the UDP socket bound to 127.0.0.1:port (QEMU's), or -1. */
static long long udp_drops(int port)
{
	char line[512], want[32];
	long long drops = -1;
	FILE *f = fopen("/proc/net/udp", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "0100007F:%04X", port);
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
	while (fgets(line, sizeof(line), f)) {
		char local[64];
		long long d;

		if (sscanf(line, "%*s %63s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lld",
			   local, &d) == 2 && !strcmp(local, want))
			drops = d;
	}
	fclose(f);
	return drops;
}

static int send_frame(int fd, const struct frame *f)
{
	for (;;) {
		if (send(fd, f->b, f->len, 0) == (ssize_t)f->len)
			return 0;
		if (errno == EINTR)
			continue;
		/* The host's own socket buffer: wait for room, never drop here. */
		if (errno == ENOBUFS || errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, 10);
			continue;
		}
		/* QEMU not listening yet, or gone: the ICMP error comes back here. */
		if (errno == ECONNREFUSED)
			return -1;
		return -1;
	}
}

static int flood(char **a)
{
	int qemu_port = atoi(a[0]), my_port = atoi(a[1]);
	unsigned long long count = strtoull(a[2], NULL, 10), sent = 0;
	double max_s = atof(a[3]);
	unsigned char src_mac[6], dst_mac[6], buf[2048];
	struct in_addr src, dst, ctrl;
	int data_port = atoi(a[8]), ctrl_port = atoi(a[10]);
	struct sockaddr_in me = { .sin_family = AF_INET }, q = { .sin_family = AF_INET };
	unsigned long long t0, t1, deadline;
	long long d0, d1;
	struct frame data, mark;
	char text[256];
	int fd, i, acked = 0, refused = 0;

	if (parse_mac(a[4], src_mac) || parse_mac(a[5], dst_mac) ||
	    !inet_aton(a[6], &src) || !inet_aton(a[7], &dst) || !inet_aton(a[9], &ctrl)) {
		fprintf(stderr, "qk-net: flood: bad MAC or IPv4 address\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return die("socket");
	me.sin_port = htons(my_port);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	q.sin_port = htons(qemu_port);
	q.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
		return die("bind 127.0.0.1");
	if (connect(fd, (struct sockaddr *)&q, sizeof(q)) < 0)
		return die("connect 127.0.0.1");
	d0 = udp_drops(qemu_port);

	make_frame(&mark, src_mac, dst_mac, src, ctrl, data_port, ctrl_port, "QKSTART");
	for (i = 0; i < 3; i++) {
		send_frame(fd, &mark);
		usleep(20000);
	}
	make_frame(&data, src_mac, dst_mac, src, dst, data_port, data_port, "qmempool-kit");
	t0 = now_ns();
	deadline = t0 + (unsigned long long)(max_s * 1e9);
	while (sent < count) {
		if (send_frame(fd, &data)) {
			refused++;
			break;
		}
		sent++;
		if (!(sent & 1023) && now_ns() > deadline)
			break;
	}
	t1 = now_ns();
	/* The marker after the data, a few times: the first may meet a full buffer. */
	make_frame(&mark, src_mac, dst_mac, src, ctrl, data_port, ctrl_port, "QKLAST");
	for (i = 0; i < 5; i++) {
		send_frame(fd, &mark);
		usleep(2000);
	}
	/* Let QEMU drain its socket before reading its drop count. */
	usleep(1000000);
	d1 = udp_drops(qemu_port);
	/* markers: the frames besides the data sent before the drops were read. */
	snprintf(text, sizeof(text), "QKEND sent %llu markers %d qemu_socket_drops %lld host_ns %llu",
		 sent, 3 + 5, d0 < 0 || d1 < 0 ? -1 : d1 - d0, t1 - t0);
	make_frame(&mark, src_mac, dst_mac, src, ctrl, data_port, ctrl_port, text);
	for (i = 0; i < 50 && !acked; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		send_frame(fd, &mark);
		while (poll(&p, 1, 200) > 0) {
			ssize_t r = recv(fd, buf, sizeof(buf), 0);

			if (r > 0 && memmem(buf, r, "QKACK", 5)) {
				acked = 1;
				break;
			}
		}
	}
	printf("{\"sent\":%llu,\"qemu_socket_drops\":%lld,\"host_ns\":%llu,\"acked\":%s,\"refused\":%d}\n",
	       sent, d0 < 0 || d1 < 0 ? -1 : d1 - d0, t1 - t0, acked ? "true" : "false", refused);
	return acked ? 0 : 1;
}

/* ---- the guest's side of a flood ----------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "qk-net: virtio-recv: timed out\n");
	_exit(3);
}

/* A counter from sysfs, or -1. */
static long long read_counter(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int virtio_recv(int port, int timeout, const char *rx_counter)
{
	struct sockaddr_in from;
	unsigned long long start = 0, last = 0, ctrl = 0;
	socklen_t flen;
	char buf[512];
	int fd;

	signal(SIGALRM, on_alarm);
	alarm(timeout);
	fd = udp_bound(port, 0);
	if (fd < 0)
		return 1;
	for (;;) {
		ssize_t r;

		flen = sizeof(from);
		r = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return die("recvfrom");
		}
		buf[r] = 0;
		ctrl++;
		if (!strncmp(buf, "QKSTART", 7) && !start)
			start = now_ns();
		else if (!strncmp(buf, "QKLAST", 6) && !last)
			last = now_ns();
		else if (!strncmp(buf, "QKEND ", 6)) {
			unsigned long long end = now_ns();
			/*
			 * Before the acknowledgement, so no second QKEND is in
			 * it: every frame the host sent before reading QEMU's
			 * drops, plus this one.
			 */
			long long rx = read_counter(rx_counter);

			sendto(fd, "QKACK", 5, 0, (struct sockaddr *)&from, flen);
			printf("virtio: start_ns %llu last_ns %llu end_ns %llu ctrl %llu rx %lld host %s\n",
			       start, last, end, ctrl, rx, buf + 6);
			return start && last ? 0 : 1;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "now")) {
		printf("%llu\n", now_ns());
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "udp-sink"))
		return udp_sink(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "tcp-stream"))
		return tcp_stream(atoi(argv[2]), strtoull(argv[3], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "virtio-recv"))
		return virtio_recv(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 13 && !strcmp(argv[1], "flood"))
		return flood(argv + 2);
	fprintf(stderr, "usage: qk-net now | udp-sink PORT | tcp-stream PORT BYTES | virtio-recv PORT TIMEOUT RX_COUNTER\n"
		"       qk-net flood QEMU_PORT MY_PORT COUNT MAX_SECONDS SRC_MAC DST_MAC SRC_IP DATA_IP DATA_PORT CTRL_IP CTRL_PORT\n");
	return 2;
}
