/* The web console of cyphonic-cloud (docs/console.md): HTTPS on its own
 * thread and event loop, with its own store handle, serving a page
 * (HTML, CSS and JavaScript built into the binary) and the JSON API
 * behind it.  Administrators log in with the accounts of `cyphonic admin`;
 * what they do goes through src/admin, as the CLI's commands do.
 *
 * The console never touches the cloud loop's state: the loop hands it
 * its counters (console_figures, every second), and the console asks the
 * loop, through an eventfd, to check tunnels again after a revocation
 * (the changed callback, run on the loop). */
#ifndef CY_CONSOLE_H
#define CY_CONSOLE_H

#include <stdbool.h>

#include "cloud_conf.h"
#include "nms.h"
#include "trs.h"

struct event_base;
struct console;

typedef void (*console_changed_fn)(void *arg);

/* Set up on the loop base (changed runs there) from the [console] section
 * of conf, which must outlive it; the thread starts with console_start.
 * NULL on failure (logged: the certificate, the store, the port). */
struct console *console_new(struct event_base *loop, const struct cloud_conf *conf,
			    console_changed_fn changed, void *arg);
int console_start(struct console *c);
void console_free(struct console *c);

/* The loop's figures for the console's live view: the text `cyphonic
 * stats --json` shows, and the NMS's and TRS's counters (NULL: the role
 * does not run here).  Copied; called on the loop. */
void console_figures(struct console *c, const char *stats_json, const struct nms_stats *nms,
		     const struct trs_stats *trs);

#endif
