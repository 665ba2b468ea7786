/* Asks for SO_PASSPIDFD (Linux 6.5) and prints what the kernel said. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
int main(void) {
	int v = -1;
	socklen_t l = sizeof v;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (getsockopt(s, SOL_SOCKET, 76, &v, &l) < 0)
		printf("RUNMATRIX-SUMMARY: passpidfd=-1 %s\n", errno == ENOPROTOOPT ? "ENOPROTOOPT" : strerror(errno));
	else
		printf("RUNMATRIX-SUMMARY: passpidfd=%d\n", v);
	return 0;
}
