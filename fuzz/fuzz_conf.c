/* libFuzzer: the INI loader with a schema of every key type, and the two
 * real config files (node, cloud).  A
 * failure must leave an error naming the file and no allocation behind
 * (LeakSanitizer); a success must leave values within their bounds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "node_conf.h"
#include "cloud_conf.h"

struct obj {
	char name[16];
	char *pem;
	int port;
	bool flag;
	char mode[8];
	char *note;
	char *pem2;
	int count;
	bool has_main, has_extra;
};

static int parse_mode(void *o, const char *v, char *err, size_t errlen)
{
	struct obj *ob = o;

	if (strcmp(v, "fast") && strcmp(v, "slow")) {
		snprintf(err, errlen, "must be fast or slow");
		return -1;
	}
	snprintf(ob->mode, sizeof(ob->mode), "%s", v);
	return 0;
}

static const struct conf_section sections[] = {
	{ "main", offsetof(struct obj, has_main) },
	{ "extra", offsetof(struct obj, has_extra) },
	{ "quiet", (size_t)-1 },
};

static const struct conf_key keys[] = {
	{ "main", "name", CONF_STR, offsetof(struct obj, name), sizeof(((struct obj *)0)->name),
	  0, 0, true, NULL },
	{ "main", "pem", CONF_TEXT, offsetof(struct obj, pem), 0, 0, 0, false, NULL },
	{ "main", "port", CONF_INT, offsetof(struct obj, port), 0, 1, 65535, true, NULL },
	{ "main", "flag", CONF_BOOL, offsetof(struct obj, flag), 0, 0, 0, false, NULL },
	{ "main", "mode", CONF_FN, 0, 0, 0, 0, false, parse_mode },
	{ "extra", "note", CONF_TEXT, offsetof(struct obj, note), 0, 0, 0, false, NULL },
	{ "extra", "count", CONF_INT, offsetof(struct obj, count), 0, -5, 5, false, NULL },
	/* a secret (CONF_SECRET): loaded like CONF_TEXT from a string */
	{ "extra", "pem", CONF_SECRET, offsetof(struct obj, pem2), 0, 0, 0, false, NULL },
	{ "quiet", "x", CONF_INT, offsetof(struct obj, count), 0, 0, 9, false, NULL },
};

static const struct conf_schema schema = {
	sections, CONF_ARRAY_LEN(sections), keys, CONF_ARRAY_LEN(keys),
};

static void check(int ok)
{
	if (!ok)
		abort();
}

static void fuzz_schema(const char *text)
{
	struct obj o;
	char err[256];

	memset(&o, 0, sizeof(o));
	err[0] = '\0';
	if (conf_load_string("fuzz.conf", text, &schema, &o, err, sizeof(err)) < 0) {
		check(!strncmp(err, "fuzz.conf:", 10) || !strncmp(err, "fuzz.conf: ", 11));
		check(o.pem == NULL && o.note == NULL && o.pem2 == NULL);
		return;
	}
	check(strlen(o.name) < sizeof(o.name));
	check(o.port >= 1 && o.port <= 65535);
	check(o.count >= -5 && o.count <= 9);
	check(o.has_main);
	if (o.pem)
		check(strlen(o.pem) < 16384);
	conf_free(&schema, &o);
	check(o.pem == NULL && o.note == NULL && o.pem2 == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_schema(text);
	{
		struct node_conf nc;
		char err[512];

		if (node_conf_load_string(&nc, "node.conf", text, err, sizeof(err)) == 0)
			node_conf_free(&nc);
		else
			check(!strncmp(err, "node.conf", 9));
	}
	{
		struct cloud_conf cc;
		char err[512];

		if (cloud_conf_load_string(&cc, "cloud.conf", text, err, sizeof(err)) < 0)
			check(!strncmp(err, "cloud.conf", 10));
	}
	free(text);
	return 0;
}
