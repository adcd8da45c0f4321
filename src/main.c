/* main.c: sipedge daemon entry point (being written). */
#include "sipedge/conf.h"
int main(void) { return 0; }
