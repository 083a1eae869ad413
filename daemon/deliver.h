/*
 * deliver.h - delivering the alerts the outbox holds through the output plugins: retried
 * with backoff and jitter, rate limited into digests, dead-lettered after max_attempts or
 * max_age. Created by the daemon with what it needs (loop, store, net, an idle callback);
 * plugins complete through the host table, which calls back into it.
 */
#ifndef FW_DELIVER_H
#define FW_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <feedwatch/plugin.h>

struct fw_config;
struct fw_store;
struct fw_net;
struct fw_metrics;
struct fw_deliver;

/* What a deliverer is given when it is created; it keeps a copy. */
struct fw_deliver_env {
	uv_loop_t *loop;
	struct fw_store *store;
	struct fw_net *net;         /* plugins' HTTP; closed before fw_deliver_close */
	struct fw_metrics *metrics; /* delivery delays are counted here (may be NULL) */
	void (*idle)(void *arg);    /* called when nothing is due or in flight now */
	void *arg;
};

/* Start the outputs of cfg (loading their plugins); cfg stays the caller's. An output that
   cannot start is logged and treated as down: its alerts wait in the outbox. Returns 0 or
   -ENOMEM. */
int fw_deliver_new(const struct fw_deliver_env *env, struct fw_config *cfg,
                   struct fw_deliver **out);

/* Delivered (which = 0) or failed-attempt (which = 1) count of an output since start. */
uint64_t fw_deliver_counter(const struct fw_deliver *a, const char *output, int which);

/* Look at the outbox now (after a commit that queued alerts). */
void fw_deliver_kick(struct fw_deliver *a);

/* A plugin's completion; thread-safe (host->done). */
void fw_deliver_done(struct fw_deliver *a, uint64_t token, enum fw_result result,
                     int64_t retry_after, const char *message);

/* After a reload to cfg: start the new outputs; the old instances finish their
   deliveries, then are finalised, and the previous config is freed with them (the
   deliverer owns it from this call on; the caller owns cfg). Returns 0 or -ENOMEM (nothing
   changed then). */
int fw_deliver_reload(struct fw_deliver *a, struct fw_config *cfg);

/* SIGHUP: let every output reopen its files. */
void fw_deliver_reopen(struct fw_deliver *a);

/* Outputs of the current config that could not start or that their plugin disabled
   (`once` exits 3 when there is one). */
size_t fw_deliver_outputs_down(const struct fw_deliver *a);

/* Deliveries in flight. */
size_t fw_deliver_in_flight(const struct fw_deliver *a);

/* Stop (after the net is closed): outstanding deliveries are abandoned (they stay in the
   outbox), plugins are finalised, handles closed; the struct is freed in the close
   callbacks. The current config stays the caller's. */
void fw_deliver_close(struct fw_deliver *a);

#endif
