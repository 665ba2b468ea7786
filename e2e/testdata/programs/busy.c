/* A busy client and server: 200 connections over loopback, each with a
 * request and a reply, so that the trace records about 1800 socket calls. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	char b[64];
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(ls, (void *)&a, sizeof a) || listen(ls, 16) || getsockname(ls, (void *)&a, &l))
		return 2;
	for (int i = 0; i < 200; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (void *)&a, sizeof a))
			return 3;
		int s = accept(ls, NULL, NULL);
		write(c, "ping", 4);
		read(s, b, sizeof b);
		write(s, "pong", 4);
		read(c, b, sizeof b);
		close(s);
		close(c);
	}
	puts("RUNMATRIX-SUMMARY: 200 round trips");
	return 0;
}
