/* What must differ between two guests started from one saved guest: the
 * kernel's random numbers and the TCP initial sequence number of a
 * connection (read from the SYN on a raw socket), and the clock. It also
 * prints the monotonic clock's resolution: a TCG guest boots with
 * highres=off, so its timers run on the tick. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(void) {
	unsigned char r[8];
	int u = open("/dev/urandom", O_RDONLY);
	if (u < 0 || read(u, r, sizeof r) != sizeof r) {
		perror("urandom");
		return 2;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (raw < 0 || ls < 0 || bind(ls, (void *)&a, sizeof a) || listen(ls, 8) || getsockname(ls, (void *)&a, &l)) {
		perror("setup");
		return 2;
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (void *)&a, sizeof a)) {
		perror("connect");
		return 2;
	}
	unsigned char p[256];
	for (;;) {
		ssize_t n = recv(raw, p, sizeof p, 0);
		if (n < 40)
			continue;
		int ihl = (p[0] & 15) * 4;
		struct tcphdr *t = (void *)(p + ihl);
		if (t->syn && !t->ack && t->dest == a.sin_port) {
			struct timespec res;
			clock_getres(CLOCK_MONOTONIC, &res);
			printf("RUNMATRIX-SUMMARY: urandom=%02x%02x%02x%02x%02x%02x%02x%02x isn=%u time=%ld res=%ld\n",
			       r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], ntohl(t->seq), (long)time(NULL),
			       res.tv_sec * 1000000000L + res.tv_nsec);
			return 0;
		}
	}
}
