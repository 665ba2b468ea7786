/* A program whose socket calls are a small part of its system calls: 20
 * socket calls among about 60,000 others (process IDs, clocks, file
 * metadata), as a program that does mostly other work has. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(void) {
	struct stat st;
	struct timespec ts;
	char b[8];
	int sv[2];
	for (int i = 0; i < 20000; i++) {
		syscall(SYS_getppid);
		syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
		stat("/", &st);
		if (i % 4000 == 0) {
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || write(sv[0], "x", 1) != 1 || read(sv[1], b, 1) != 1)
				return 2;
			close(sv[0]);
			close(sv[1]);
		}
	}
	printf("RUNMATRIX-SUMMARY: done\n");
	return 0;
}
