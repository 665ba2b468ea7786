/* sendto(MSG_FASTOPEN) on a fresh socket to a listener: the Exim call. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
int main(void) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (void *)&a, sizeof a) || listen(ls, 8) || getsockname(ls, (void *)&a, &l)) {
		perror("setup");
		return 2;
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n = sendto(c, "hello", 5, MSG_FASTOPEN, (void *)&a, sizeof a);
	if (n < 0)
		printf("sendto=-1 %s\n", strerror(errno));
	else
		printf("sendto=%zd\n", n);
	return 0;
}
