/* Writes to a socket whose peer is closed: EPIPE, and SIGPIPE kills it. */
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 2;
	close(sv[1]);
	write(sv[0], "x", 1);
	return 0;
}
