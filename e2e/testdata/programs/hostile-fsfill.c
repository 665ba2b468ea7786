#include <fcntl.h>
#include <string.h>
#include <unistd.h>
int main(void){char b[65536];memset(b,'y',sizeof b);int f=open("fill",O_CREAT|O_WRONLY,0644);int g=open("/tmp/fill",O_CREAT|O_WRONLY,0644);while(write(f,b,sizeof b)>0);while(write(g,b,sizeof b)>0);for(;;)pause();}
