#include <signal.h>
#include <stdio.h>
int main(void){kill(-1,SIGKILL);puts("RUNMATRIX-SUMMARY: killed everyone");return 0;}
