/* Virtual-IP arithmetic over the meta prefixes (store.h): the backends
 * allocate with it, `cyphonic init` checks its ranges with it. */
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "conf.h"

static int vip_parse(const char *s, int af, uint8_t *addr, int *plen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = af == AF_INET ? 4 : 16;
	long len;
	size_t i;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, slash - s);
	host[slash - s] = '\0';
	if (inet_pton(af, host, addr) != 1)
		return -EINVAL;
	if (!conf_parse_long(slash + 1, 1, (long)alen * 8, &len))
		return -EINVAL;
	/* host bits must be zero: "100.64.0.1/10" is a mistake, not a range */
	for (i = 0; i < alen; i++) {
		long bit0 = (long)i * 8;
		uint8_t mask = len >= bit0 + 8 ? 0xff
			     : len <= bit0   ? 0x00
					     : (uint8_t)(0xff << (8 - (len - bit0)));
		if (addr[i] & (uint8_t)~mask)
			return -EINVAL;
	}
	*plen = (int)len;
	return 0;
}

int store_vip_parse4(const char *s, uint8_t addr[4], int *plen)
{
	return vip_parse(s, AF_INET, addr, plen);
}

int store_vip_parse6(const char *s, uint8_t addr[16], int *plen)
{
	return vip_parse(s, AF_INET6, addr, plen);
}

int64_t store_vip_capacity(int plen4, int plen6)
{
	int host4 = 32 - plen4, host6 = 128 - plen6;
	int64_t cap4, cap6;

	/* IPv4: index 0 is the network, the last one the broadcast. */
	cap4 = host4 < 2 ? 0 : ((int64_t)1 << host4) - 2;
	/* IPv6: index 0 is the subnet-router anycast address. */
	cap6 = host6 >= 62 ? INT64_MAX : ((int64_t)1 << host6) - 1;
	return cap4 < cap6 ? cap4 : cap6;
}

static void vip_add(uint8_t *a, size_t len, int64_t index)
{
	uint64_t carry = (uint64_t)index;
	size_t i;

	for (i = len; i-- > 0 && carry;) {
		carry += a[i];
		a[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

void store_vip_make(const uint8_t p4[4], const uint8_t p6[16], int64_t index, uint8_t vip4[4],
		    uint8_t vip6[16])
{
	memcpy(vip4, p4, 4);
	memcpy(vip6, p6, 16);
	vip_add(vip4, 4, index);
	vip_add(vip6, 16, index);
}
