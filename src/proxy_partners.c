/* proxy_partners.c: the discovered partners as the throttle sees them, read on
 * the main thread (proxy.h): the control socket's live view. */
#include "proxy_int.h"

size_t
proxy_partners(struct proxy *px, uint64_t now_ms, throttle_list_cb cb, void *arg)
{
	if (px->pol == NULL)
		return 0;
	return throttle_list(px->throttle, px->pol, now_ms, cb, arg);
}
