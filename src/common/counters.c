#include "counters.h"

#include "json.h"

void counters_json(struct json *j, const char *obj, const struct counter *tab, size_t n,
		   const void *stats)
{
	if (obj)
		json_obj_begin(j, obj);
	for (size_t i = 0; i < n; i++)
		json_uint(j, tab[i].name, counter_get(&tab[i], stats));
	if (obj)
		json_obj_end(j);
}
