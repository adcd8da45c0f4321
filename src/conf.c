/* conf.c: sipedge.conf(5) parser (being written). */
#include "sipedge/conf.h"
