#include "heapscan.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void heapscan_prepare(void)
{
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
}

bool heapscan_holds(const void *needle, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	if (!f)
		abort();
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (strstr(line, "[heap]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    memmem((const void *)lo, hi - lo, needle, len))
			found = true;
	}
	fclose(f);
	return found;
}
