/* poll_items.c - the items of one finished poll in its store transaction (poll_items.h). */
#include <errno.h>
#include <stdlib.h>

#include "alert.h"
#include "clock.h"
#include "config.h"
#include "fetch.h"
#include "grouper.h"
#include "item.h"
#include "log.h"
#include "match.h"
#include "metrics.h"
#include "poll_items.h"
#include "store.h"

/* See poll_items.h. */
void fw_poll_tally_clear(struct fw_poll_tally *t)
{
	fw_alert_storm_clear(&t->storm);
	free(t->wl_alerts);
	free(t->times);
	*t = (struct fw_poll_tally){0};
}

static bool too_old(const struct fw_item *it, int64_t max_age, int64_t now)
{
	int64_t t = it->published != FW_TIME_NONE ? it->published : it->updated;

	return max_age > 0 && t != FW_TIME_NONE && t < now - max_age;
}

/* An error that belongs to one item (a value the store refuses), not to the store. */
static bool item_error(int rc)
{
	return rc == -E2BIG || rc == -EINVAL;
}

static void skip_item(struct fw_store *tx, const struct fw_poll_items_env *e,
                      const struct fw_item *it, struct fw_poll_tally *t)
{
	t->n_skipped++;
	fw_log(FW_LOG_WARNING, "feed '%s': item '%.80s' skipped: %s", e->feed->name, it->id,
	       fw_store_error(tx));
}

/* Raise the alerts of one matched item in a savepoint of its own: an item the store
   refuses is skipped alone. 0 or a negative errno that fails the poll. */
static int raise_item(struct fw_store *tx, const struct fw_poll_items_env *e,
                      const struct fw_item *it, const struct fw_match_result *mr,
                      const struct fw_grouper_item *gi, int64_t now, struct fw_poll_tally *t)
{
	const struct fw_config *cfg = e->cfg;
	size_t before = t->n_alerts;
	uint8_t *fresh = calloc(mr->n_watchlists + 1, 1);
	int rc = fresh ? fw_store_item_begin(tx) : -ENOMEM;

	if (rc == 0 && gi)
		rc = fw_grouper_raise(e->grouper, tx, cfg, e->feed, it, mr, gi, now, &t->n_alerts,
		                      fresh);
	else if (rc == 0)
		rc = fw_alert_raise(tx, cfg, e->feed, it, mr, now, &t->n_alerts, fresh, NULL);
	if (rc < 0 && item_error(rc)) {
		skip_item(tx, e, it, t);
		t->n_alerts = before;
		rc = fw_store_item_end(tx, false);
	} else if (rc < 0) {
		t->n_alerts = before;
	} else if ((rc = fw_store_item_end(tx, true)) == 0 && t->n_alerts > before) {
		t->n_alerting++;
		if (!t->wl_alerts)
			t->wl_alerts = calloc(cfg->n_watchlists + 1, sizeof(*t->wl_alerts));
		for (size_t i = 0; t->wl_alerts && i < mr->n_watchlists; i++)
			t->wl_alerts[mr->watchlists[i]] += fresh[i];
	}
	free(fresh);
	return rc;
}

/* A matching item past the feed's max_alerts_per_poll: remembered as seen (it is), and
   summed up in the poll's one notice alert. */
static int hold_item(const struct fw_poll_items_env *e, const struct fw_item *it,
                     const struct fw_match_result *mr, struct fw_poll_tally *t)
{
	t->n_held++;
	return fw_alert_storm_add(&t->storm, e->cfg, it, mr);
}

/* Place a new item in its story (pre: its features computed ahead, or NULL), a matched one
   in a savepoint of its own (an item the store refuses is placed nowhere and alerts as an
   item). 0, 1 when placed, or a negative errno. */
static int place_item(struct fw_store *tx, const struct fw_poll_items_env *e,
                      const struct fw_item *it, const struct fw_match_result *mr,
                      const struct fw_story_features *pre, int64_t now, struct fw_grouper_item *gi)
{
	struct fw_grouper *g = e->grouper;
	uint64_t mark = g ? fw_grouper_mark(g) : 0;
	/* An item no watchlist matched is one INSERT, which the store refuses (a value too
	   long) before it writes anything: no savepoint, which would copy every page the
	   INSERT touches into the sub-journal, item by item. */
	bool several = mr->n_watchlists > 0;
	int rc;

	if (g == NULL)
		return 0;
	/* the items other nodes added, under the shared store's lock: outside the savepoint */
	if ((rc = fw_grouper_sync(g, tx, now)) < 0)
		return rc;
	if (several && (rc = fw_store_item_begin(tx)) < 0)
		return rc;
	rc = fw_grouper_place_pre(g, tx, e->cfg, e->feed->name, it, mr, pre, now, gi);
	if (rc < 0) {
		fw_grouper_rollback(g, mark);
		fw_grouper_item_clear(gi);
		if (!item_error(rc))
			return rc;
		fw_log(FW_LOG_WARNING, "feed '%s': item '%.80s' in no story: %s", e->feed->name,
		       it->id, fw_store_error(tx));
		return several ? fw_store_item_end(tx, false) : 0;
	}
	rc = several ? fw_store_item_end(tx, true) : 0;
	return rc < 0 ? rc : 1;
}

/* Keep a new item's text in the archive (store.h): one row, which a value the store refuses
   leaves unwritten, so that item is left out of the archive alone (its word index comes
   later, off this path). 0 or a negative errno that fails the poll. */
static int archive_item(struct fw_store *tx, const struct fw_poll_items_env *e,
                        const struct fw_item *it, int64_t now)
{
	const struct fw_archive_row r = {.feed = e->feed->name,
	                                 .item = it->id,
	                                 .title = it->title,
	                                 .link = it->link,
	                                 .author = it->author,
	                                 .summary = it->summary,
	                                 .content = it->content,
	                                 .categories = (const char *const *)it->categories,
	                                 .n_categories = it->n_categories,
	                                 .published = it->published,
	                                 .updated = it->updated,
	                                 .seen = now};
	int rc;

	if (e->cfg->archive <= 0)
		return 0;
	rc = fw_store_archive_add(tx, &r);
	if (rc < 0 && item_error(rc)) {
		fw_log(FW_LOG_WARNING, "feed '%s': item '%.80s' not archived: %s", e->feed->name,
		       it->id, fw_store_error(tx));
		return 0;
	}
	return rc;
}

/* A new item: its date for the rate estimate; its detection delay (publication to the end
   of the poll that found it, now, or to when the push that brought it was received, the
   alert's pushed; not for a first poll's back catalogue). */
static void new_item(const struct fw_poll_items_env *e, const struct fw_item *it, bool first_poll,
                     int64_t now, struct fw_poll_tally *t)
{
	if (t->times)
		t->times[t->n_new] = fw_item_date(it);
	t->n_new++;
	if (!first_poll && it->published != FW_TIME_NONE && it->published <= now)
		fw_metrics_observe_detection(
		    e->metrics, (it->pushed > 0 ? (double)it->pushed : fw_clock_now_f()) -
		                    (double)it->published);
}

/*
 * One item of a poll, in the poll's transaction tx: marked seen; when new, archived (its
 * text, for backtests and new watchlists); when new or edited (and not a new feed's back
 * catalogue) matched; when new, placed in a story (pre: its story features from the parser
 * thread, or NULL); when it matches
 * (and is not an old item re-issued under a fresh id) its alerts are raised (by its story's
 * rules), or past the feed's cap it is held for the poll's one notice. 0, or a negative
 * errno that fails the poll.
 */
static int commit_item(struct fw_store *tx, const struct fw_poll_items_env *e, struct fw_item *it,
                       uint64_t hash, const struct fw_story_features *pre, bool first_poll,
                       int64_t now, struct fw_match_result *mr, struct fw_poll_tally *t)
{
	int64_t cap = e->feed->max_alerts_per_poll;
	struct fw_grouper_item gi = {0};
	int mark, rc, placed = 0;

	if ((rc = fw_item_ensure_id(it)) < 0)
		return rc;
	mark = fw_store_item_mark(tx, e->feed->name, it->id, hash, now);
	if (mark < 0 && item_error(mark)) {
		skip_item(tx, e, it, t);
		return 0;
	}
	if (mark <= 0) /* an error, or FW_ITEM_SAME */
		return mark;
	if (mark == FW_ITEM_NEW) {
		new_item(e, it, first_poll, now, t);
		if ((rc = archive_item(tx, e, it, now)) < 0)
			return rc;
	}
	if (first_poll && too_old(it, e->feed->first_poll_max_age, now))
		return 0;
	if ((rc = fw_match_item(e->cfg->matcher, it, mr)) < 0)
		return rc;
	if (mark == FW_ITEM_NEW && (placed = place_item(tx, e, it, mr, pre, now, &gi)) < 0)
		return placed;
	if (mr->n_watchlists == 0)
		rc = 0;
	else if (mark == FW_ITEM_NEW &&
	         (rc = fw_store_item_reissued(tx, e->feed->name, it->id, hash)) != 0)
		rc = rc > 0 ? 0 : rc;
	else if (cap > 0 && t->n_alerting >= (size_t)cap)
		rc = hold_item(e, it, mr, t);
	else
		rc = raise_item(tx, e, it, mr, placed ? &gi : NULL, now, t);
	fw_grouper_item_clear(&gi);
	return rc;
}

/* The story features of item i that the parser thread computed, or NULL. */
static const struct fw_story_features *featured(const struct fw_fetch_result *r, size_t i)
{
	if (r->features == NULL || i >= r->n_features || r->features[i].n == FW_FETCH_UNFEATURED)
		return NULL;
	return &r->features[i];
}

/* See poll_items.h. */
int fw_poll_items_commit(struct fw_store *tx, const struct fw_poll_items_env *e,
                         struct fw_fetch_result *r, bool first_poll, int64_t now,
                         struct fw_poll_tally *t)
{
	struct fw_match_result mr = {0};
	int rc = 0;

	t->times = calloc(r->n_items + 1, sizeof(*t->times));
	for (size_t i = 0; i < r->n_items; i++) {
		if (r->pushed)
			r->items[i]->pushed = r->finished;
		else
			r->items[i]->fetched = r->finished;
	}
	for (size_t i = 0; i < r->n_items && rc == 0; i++)
		rc = commit_item(tx, e, r->items[i], r->hashes[i], featured(r, i), first_poll, now,
		                 &mr, t);
	fw_match_result_clear(&mr);
	if (rc == 0 && t->n_held > 0) {
		rc = fw_alert_raise_storm(tx, e->cfg, e->feed, &t->storm,
		                          (size_t)e->feed->max_alerts_per_poll, now);
		if (rc > 0)
			t->n_alerts += (size_t)rc;
		rc = rc < 0 ? rc : 0;
	}
	return rc;
}
