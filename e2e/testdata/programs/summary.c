#include <stdio.h>
int main(void){puts("RUNMATRIX-SUMMARY: first");puts("noise");puts("RUNMATRIX-SUMMARY: answer=42");fprintf(stderr,"to stderr\n");return 3;}
