/*
 * desktop.c - the desktop output: a freedesktop.org notification per alert (libnotify).
 *
 * Keys: urgency        "low", "normal" or "critical" for every notification (default: from
 *                      the alert's priority: low, normal, high and urgent -> critical)
 *       timeout        how long the notification shows (duration; default: the server's)
 *       app_name       the application name shown (default "feedwatch")
 *       category       the notification category, e.g. "im.received" (default none)
 *       desktop_entry  the "desktop-entry" hint: the installed feedwatch.desktop's name
 *                      (default "feedwatch", FW_DESKTOP_ID; "" sends no hint)
 *       actions        true (default): an "Open" action that opens the item's link
 *
 * The summary is the item title (plain text by the spec); the body names the feed, the
 * matched terms and a snippet (of a match outside the title, else the item's summary: never
 * the title again), every piece escaped with g_markup_escape_text. An alert's title and body
 * templates (plugins/common/template.h) replace them, the body escaped for the spec's markup
 * (& < >). A story's alerts share one notification: an update (story.new false) replaces
 * the story's earlier notification (the last DT_STORY_MAX stories are remembered).
 *
 * libnotify talks D-Bus synchronously and needs a GLib main loop for its action signals,
 * so each instance owns a notifier thread running a GMainLoop on its own GMainContext.
 * deliver() (on the daemon's loop thread) copies what it needs and hands it over with
 * g_main_context_invoke_full(); the notifier thread shows the notification and reports
 * with host->done() (thread-safe). No session bus or no notification server: FW_RETRY.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib.h>
#include <libnotify/notify.h>

#include <feedwatch/plugin.h>
#include <jansson.h>

#include "../common/template.h"

#define DT_LIVE_MAX      64 /* notifications kept alive for their "Open" action */
#define DT_DIGEST_LIST   5  /* titles listed in a digest's body */
#define DT_TITLE_MAX     500
#define DT_DEFAULT_APP   "feedwatch"
#define DT_TIMEOUT_MAX_S 86400
#define DT_BODY_MAX      4096 /* bytes of a rendered body template */
#define DT_STORY_MAX     64   /* stories whose notification is remembered for updates */
/* The desktop entry feedwatch installs (config/feedwatch.desktop.in): CMake passes its name. */
#ifndef FW_DESKTOP_ID
#define FW_DESKTOP_ID "feedwatch"
#endif
#define DT_STORY_LIST 5 /* added titles listed in a story update's body */

struct desktop {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	NotifyUrgency urgency;
	bool urgency_set; /* the urgency key: every notification; else from the priority */
	int timeout_ms;   /* NOTIFY_EXPIRES_DEFAULT unless configured */
	const char *app_name, *category, *desktop_entry;
	bool actions;
	bool notify_ref; /* holds a reference on libnotify's global state */
	GMainContext *gctx;
	GMainLoop *loop;
	GThread *thread;
	GQueue live;         /* NotifyNotification *, notifier thread only */
	GHashTable *stories; /* story id -> NotifyNotification * (a reference), notifier thread */
	GQueue story_ids;    /* the keys of stories, oldest first, for the cap */
};

/* One notification to show: everything copied, owned by the notifier thread. */
struct dt_job {
	struct desktop *d;
	uint64_t token;
	char *summary;
	char *body;  /* markup, escaped */
	char *link;  /* http(s) only, or NULL */
	char *story; /* the story id, or NULL */
	NotifyUrgency urgency;
};

/* libnotify's state is process-wide: count the instances that use it. */
static GMutex notify_lock;
static unsigned notify_users;

static void notify_ref(struct desktop *d)
{
	g_mutex_lock(&notify_lock);
	if (notify_users++ == 0 && !notify_is_initted())
		notify_init(d->app_name);
	g_mutex_unlock(&notify_lock);
	d->notify_ref = true;
}

static void notify_unref(struct desktop *d)
{
	if (!d->notify_ref)
		return;
	d->notify_ref = false;
	g_mutex_lock(&notify_lock);
	if (--notify_users == 0 && notify_is_initted())
		notify_uninit();
	g_mutex_unlock(&notify_lock);
}

static gpointer notifier_main(gpointer arg)
{
	struct desktop *d = arg;

	/* libnotify's D-Bus proxy delivers its signals (actions, closed) to the thread-default
	   context of the thread that first uses it: this one. */
	g_main_context_push_thread_default(d->gctx);
	g_main_loop_run(d->loop);
	while (!g_queue_is_empty(&d->live))
		g_object_unref(g_queue_pop_head(&d->live));
	g_queue_clear(&d->story_ids);
	g_hash_table_destroy(d->stories);
	d->stories = NULL;
	/* The last user frees libnotify's proxy here: GDBus frees its signal subscriptions
	   from idle callbacks on this context, so run them before the context goes. */
	notify_unref(d);
	while (g_main_context_iteration(d->gctx, FALSE))
		;
	g_main_context_pop_thread_default(d->gctx);
	return NULL;
}

/*
 * The settings of one instance, validated into d (shared by init and check, so that they
 * never disagree). Logs the problem; returns 0 or -EINVAL. The strings are the host's.
 */
static int desktop_settings(const struct fw_host *host, struct fw_plugin_ctx *ctx,
                            struct desktop *d)
{
	const char *urgency = "normal";
	int64_t ms;
	int r, b;

	d->timeout_ms = NOTIFY_EXPIRES_DEFAULT;
	d->app_name = DT_DEFAULT_APP;
	d->desktop_entry = FW_DESKTOP_ID;
	d->actions = true;
	r = host->cfg_string(ctx, "urgency", &urgency);
	if (r == -EINVAL || !urgency) {
		host->log(ctx, FW_LOG_ERR, "urgency must be a string");
		return -EINVAL;
	}
	d->urgency_set = r == 0;
	if (strcmp(urgency, "low") == 0) {
		d->urgency = NOTIFY_URGENCY_LOW;
	} else if (strcmp(urgency, "normal") == 0) {
		d->urgency = NOTIFY_URGENCY_NORMAL;
	} else if (strcmp(urgency, "critical") == 0) {
		d->urgency = NOTIFY_URGENCY_CRITICAL;
	} else {
		host->log(ctx, FW_LOG_ERR,
		          "urgency must be \"low\", \"normal\" or \"critical\", not \"%s\"",
		          urgency);
		return -EINVAL;
	}
	r = host->cfg_duration_ms(ctx, "timeout", &ms);
	if (r == 0 && (ms <= 0 || ms > DT_TIMEOUT_MAX_S * 1000LL)) {
		host->log(ctx, FW_LOG_ERR, "timeout must be between 1s and 1d");
		return -EINVAL;
	} else if (r == 0) {
		d->timeout_ms = (int)ms;
	} else if (r != -ENOENT) {
		host->log(ctx, FW_LOG_ERR, "timeout must be a duration like \"10s\"");
		return -EINVAL;
	}
	if (host->cfg_string(ctx, "app_name", &d->app_name) == -EINVAL ||
	    host->cfg_string(ctx, "category", &d->category) == -EINVAL ||
	    host->cfg_string(ctx, "desktop_entry", &d->desktop_entry) == -EINVAL) {
		host->log(ctx, FW_LOG_ERR, "app_name, category and desktop_entry are strings");
		return -EINVAL;
	}
	if (*d->app_name == 0) {
		host->log(ctx, FW_LOG_ERR, "app_name must not be empty");
		return -EINVAL;
	}
	r = host->cfg_bool(ctx, "actions", &b);
	if (r == 0) {
		d->actions = b != 0;
	} else if (r != -ENOENT) {
		host->log(ctx, FW_LOG_ERR, "actions must be true or false");
		return -EINVAL;
	}
	return 0;
}

/* Check: the settings only (no D-Bus, no thread). */
static int desktop_check(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	struct desktop d = {0};

	return desktop_settings(host, ctx, &d);
}

static int desktop_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct desktop *d = calloc(1, sizeof(*d));
	int r;

	if (d == NULL)
		return -ENOMEM;
	*state = d;
	d->host = host;
	d->ctx = ctx;
	g_queue_init(&d->live);
	g_queue_init(&d->story_ids);
	d->stories = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	r = desktop_settings(host, ctx, d);
	if (r < 0)
		return r;
	notify_ref(d);
	d->gctx = g_main_context_new();
	d->loop = g_main_loop_new(d->gctx, FALSE);
	d->thread = g_thread_try_new("fw-desktop", notifier_main, d, NULL);
	if (d->thread == NULL) {
		host->log(ctx, FW_LOG_ERR, "cannot start the notifier thread");
		return -EAGAIN;
	}
	return 0;
}

static void job_free(gpointer p)
{
	struct dt_job *j = p;

	if (j == NULL)
		return;
	g_free(j->summary);
	g_free(j->body);
	g_free(j->link);
	g_free(j->story);
	g_free(j);
}

static void open_cb(NotifyNotification *n, char *action, gpointer user_data)
{
	const char *link = user_data;
	GError *err = NULL;

	(void)n;
	(void)action;
	if (!g_app_info_launch_default_for_uri(link, NULL, &err)) {
		/* No handler registered: xdg-open, without a shell. */
		char *argv[] = {(char *)"xdg-open", (char *)link, NULL};

		g_clear_error(&err);
		g_spawn_async(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
		              NULL, NULL, NULL, NULL);
	}
}

static void closed_cb(NotifyNotification *n, gpointer user_data)
{
	struct desktop *d = user_data;

	if (g_queue_remove(&d->live, n))
		g_object_unref(n);
}

/* Remember n as the notification of story id (taking the caller's reference); the oldest
   story is forgotten past DT_STORY_MAX. */
static void story_keep(struct desktop *d, const char *id, NotifyNotification *n)
{
	char *key = g_strdup(id);

	g_hash_table_replace(d->stories, key, n);
	g_queue_push_tail(&d->story_ids, key);
	if (g_queue_get_length(&d->story_ids) > DT_STORY_MAX)
		g_hash_table_remove(d->stories, g_queue_pop_head(&d->story_ids));
}

/* On the notifier thread: show one notification (a story's replaces the story's earlier
   one), report the outcome. */
static gboolean show_cb(gpointer p)
{
	struct dt_job *j = p;
	struct desktop *d = j->d;
	NotifyNotification *n = j->story ? g_hash_table_lookup(d->stories, j->story) : NULL;
	GDBusConnection *bus;
	GError *err = NULL;
	bool fresh = n == NULL;

	/* GDBus ends the process when the shared session bus connection closes (a session
	   bus restart): a daemon must not. */
	bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
	if (bus) {
		g_dbus_connection_set_exit_on_close(bus, FALSE);
		g_object_unref(bus);
	}
	if (fresh) {
		n = notify_notification_new(j->summary, j->body, NULL);
	} else {
		/* Same notification id: the server replaces what it shows. */
		notify_notification_update(n, j->summary, j->body, NULL);
		notify_notification_clear_actions(n);
	}
	notify_notification_set_app_name(n, d->app_name);
	notify_notification_set_urgency(n, j->urgency);
	notify_notification_set_timeout(n, d->timeout_ms);
	if (d->category)
		notify_notification_set_category(n, d->category);
	if (d->desktop_entry && *d->desktop_entry)
		notify_notification_set_hint(n, "desktop-entry",
		                             g_variant_new_string(d->desktop_entry));
	if (d->actions && j->link)
		notify_notification_add_action(n, "open", "Open", open_cb, g_strdup(j->link),
		                               g_free);
	if (!notify_notification_show(n, &err)) {
		char msg[256];

		snprintf(msg, sizeof(msg), "no notification server: %s",
		         err ? err->message : "unknown error");
		g_clear_error(&err);
		if (fresh)
			g_object_unref(n);
		d->host->done(d->ctx, j->token, FW_RETRY, -1, msg);
		return G_SOURCE_REMOVE;
	}
	d->host->done(d->ctx, j->token, FW_DELIVERED, -1, NULL);
	if (j->story) { /* kept for the story's updates (and its action) */
		if (fresh)
			story_keep(d, j->story, n);
		return G_SOURCE_REMOVE;
	}
	if (!d->actions || j->link == NULL) {
		g_object_unref(n);
		return G_SOURCE_REMOVE;
	}
	/* Keep it until it closes, so that its action can still fire; cap how many. */
	g_signal_connect(n, "closed", G_CALLBACK(closed_cb), d);
	g_queue_push_tail(&d->live, n);
	if (g_queue_get_length(&d->live) > DT_LIVE_MAX)
		g_object_unref(g_queue_pop_head(&d->live));
	return G_SOURCE_REMOVE;
}

static void append_escaped(GString *s, const char *text, size_t max)
{
	size_t n = strlen(text);
	char *esc;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	esc = g_markup_escape_text(text, (gssize)n);
	g_string_append(s, esc);
	if (n < strlen(text))
		g_string_append(s, "\xe2\x80\xa6");
	g_free(esc);
}

/* Whether the item's summary only repeats its title (feeds that put the title in the
   description): then the body leaves it out. */
static bool repeats_title(const char *summary, const char *title)
{
	return *title && (strstr(title, summary) || strncmp(summary, title, strlen(title)) == 0);
}

/* The body: "feed · watchlist (terms)" and a snippet (of the first match outside the title,
   else the item's summary, never the title again), or "+N more alerts" for a digest. */
static char *make_body(const struct fw_alert *a)
{
	GString *s = g_string_new(NULL);
	const char *snip = repeats_title(a->summary, a->title) ? "" : a->summary;

	append_escaped(s, a->feed_name, 200);
	g_string_append(s, " \xc2\xb7 ");
	append_escaped(s, a->watchlist, 200);
	for (size_t i = 0; i < a->n_explain && i < 8; i++) {
		bool dup = false;

		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(a->explain[k].term, a->explain[i].term) == 0;
		if (dup)
			continue;
		g_string_append(s, i ? ", " : " (");
		append_escaped(s, a->explain[i].term, 100);
	}
	if (a->n_explain)
		g_string_append(s, ")");
	for (size_t i = 0; i < a->n_explain; i++)
		if (a->explain[i].snippet[0] && strcmp(a->explain[i].field, "title") != 0) {
			snip = a->explain[i].snippet;
			break;
		}
	if (a->n_digest > 0) {
		g_string_append_printf(s, "\n+%zu more alerts", a->n_digest - 1);
	} else if (snip && *snip) {
		g_string_append(s, "\n");
		append_escaped(s, snip, 400);
	}
	return g_string_free(s, FALSE);
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* The body of a story update: "+N items from M feeds (T in all)" and the first added
   titles with their feeds; M counts the feeds of the added items. */
static char *story_body(json_t *st)
{
	json_t *added = json_object_get(st, "added");
	size_t n = json_array_size(added), feeds = fw_template_added_feeds(st);
	json_int_t more = json_integer_value(json_object_get(st, "more"));
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "+%lld items from %zu feed%s (%lld in all)",
	                       (long long)n + (more > 0 ? (long long)more : 0), feeds,
	                       feeds == 1 ? "" : "s",
	                       (long long)json_integer_value(json_object_get(st, "items")));
	for (size_t i = 0; i < n && i < DT_STORY_LIST; i++) {
		g_string_append(s, "\n\xe2\x80\xa2 ");
		append_escaped(s, jstr(json_array_get(added, i), "title"), 200);
		g_string_append(s, " \xe2\x80\x94 ");
		append_escaped(s, jstr(json_array_get(added, i), "feed"), 100);
	}
	if (n + (size_t)(more > 0 ? more : 0) > DT_STORY_LIST)
		g_string_append_printf(s, "\n\xe2\x80\xa6 and %lld more",
		                       (long long)(n + (size_t)(more > 0 ? more : 0)) -
		                           DT_STORY_LIST);
	return g_string_free(s, FALSE);
}

/* The notification spec's body markup: &, < and > as entities (template.h escape). */
static void escape_markup(struct fw_textbuf *b, const char *s, size_t n, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		switch (s[i]) {
		case '&':
			fw_textbuf_puts(b, "&amp;");
			break;
		case '<':
			fw_textbuf_puts(b, "&lt;");
			break;
		case '>':
			fw_textbuf_puts(b, "&gt;");
			break;
		default:
			fw_textbuf_add(b, s + i, 1);
		}
}

/* A template rendered for alert a (esc NULL: plain text), or NULL when there is none or it
   does not render (an alert queued under an older config). g_free() it. */
static char *render(json_t *a, const char *which, fw_template_escape_fn esc, size_t max)
{
	const char *tpl = fw_template_get(a, which);
	struct fw_textbuf b = {.max = max};
	char *out = NULL;

	if (tpl && fw_template_render(tpl, a, esc, NULL, &b) == 0)
		out = g_strdup(b.p ? b.p : "");
	free(b.p);
	return out;
}

/* The summary (plain text) and the body (markup) of one notification, from its JSON. */
static void make_text(struct desktop *d, struct dt_job *j, const struct fw_alert *a, json_t *root)
{
	json_t *first = a->n_digest ? json_array_get(json_object_get(root, "alerts"), 0) : root;
	json_t *st = a->n_digest ? NULL : json_object_get(root, "story");
	bool update = json_is_false(json_object_get(st, "new"));
	const char *title = update && *jstr(st, "title") ? jstr(st, "title") : a->title;
	char *t = render(first, "title", NULL, DT_TITLE_MAX), *b;
	size_t n = strlen(title);
	static const NotifyUrgency by_priority[] = {NOTIFY_URGENCY_LOW, NOTIFY_URGENCY_NORMAL,
	                                            NOTIFY_URGENCY_CRITICAL,
	                                            NOTIFY_URGENCY_CRITICAL};

	j->urgency = d->urgency_set ? d->urgency : by_priority[fw_template_priority(root)];
	if (json_is_string(json_object_get(st, "id")))
		j->story = g_strdup(jstr(st, "id"));
	if (t) {
		title = t;
		n = strlen(t);
	} else if (n > DT_TITLE_MAX) {
		n = DT_TITLE_MAX;
		while (n > 0 && ((unsigned char)title[n] & 0xc0) == 0x80)
			n--;
	}
	if (a->n_digest > 0)
		j->summary = g_strdup_printf("%zu alerts: %.*s", a->n_digest, (int)n, title);
	else
		j->summary = g_strndup(title, n);
	g_free(t);
	b = render(first, "body", escape_markup, DT_BODY_MAX);
	if (b && a->n_digest > 0) {
		j->body = g_strdup_printf("%s\n+%zu more alerts", b, a->n_digest - 1);
		g_free(b);
	} else {
		j->body = b ? b : update ? story_body(st) : make_body(a);
	}
}

static int desktop_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct desktop *d = state;
	struct dt_job *j = g_new0(struct dt_job, 1);
	json_t *root = json_loads(a->json, 0, NULL);

	j->d = d;
	j->token = token;
	make_text(d, j, a, root);
	json_decref(root);
	if (a->link && a->n_digest == 0 &&
	    (g_str_has_prefix(a->link, "https://") || g_str_has_prefix(a->link, "http://")))
		j->link = g_strdup(a->link);
	/* Pending jobs are freed with the context if fini() comes first. */
	g_main_context_invoke_full(d->gctx, G_PRIORITY_DEFAULT, show_cb, j, job_free);
	return 0;
}

static gboolean quit_cb(gpointer p)
{
	g_main_loop_quit(p);
	return G_SOURCE_REMOVE;
}

static void desktop_fini(void *state)
{
	struct desktop *d = state;

	if (d == NULL)
		return;
	if (d->thread) {
		/* Behind the jobs already queued: their done() may still arrive, or not. */
		g_main_context_invoke(d->gctx, quit_cb, d->loop);
		g_thread_join(d->thread);
	}
	if (d->loop)
		g_main_loop_unref(d->loop);
	if (d->gctx) /* jobs never run: their sources are destroyed here, freeing them */
		g_main_context_unref(d->gctx);
	if (d->stories) /* the thread never ran: empty */
		g_hash_table_destroy(d->stories);
	notify_unref(d);
	free(d);
}

static const struct fw_plugin_key desktop_keys[] = {
    {"urgency", FW_KEY_STRING,
     "\"low\", \"normal\" or \"critical\" always (default: from the alert's priority)"},
    {"timeout", FW_KEY_DURATION, "how long a notification shows (default: the server's)"},
    {"app_name", FW_KEY_STRING, "application name shown (default \"feedwatch\")"},
    {"category", FW_KEY_STRING, "notification category, e.g. \"im.received\""},
    {"desktop_entry", FW_KEY_STRING, "the desktop-entry hint (default \"" FW_DESKTOP_ID "\")"},
    {"actions", FW_KEY_BOOL, "an \"Open\" action that opens the link (default true)"},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "desktop",
    .version = "1.0",
    .description = "desktop notifications (freedesktop.org, libnotify) with an Open action",
    .flags = 0,
    .keys = desktop_keys,
    .init = desktop_init,
    .deliver = desktop_deliver,
    .reopen = NULL,
    .fini = desktop_fini,
    .check = desktop_check,
};
