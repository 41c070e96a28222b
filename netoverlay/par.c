/* netoverlay/par.c — a helper thread that works ahead of ovl_create.
 *
 * Nearly all of ovl_create's time is the kernel building namespaces and
 * devices, one syscall after another, and most of it can run on two CPUs
 * at once (making a netns mostly does not wait for RTNL, nor does an
 * nftables transaction). So ovl_create runs one helper thread beside the
 * calling thread and both take the next piece of work as they get free
 * (overlay.c decides what; par.c gives it a thread, a lock, a condition
 * variable and a way to hand back the helper's error).
 *
 * Network namespaces are per thread: the helper starts in the caller's netns
 * (it is created while the caller is there) and enters and leaves
 * namespaces on its own. It blocks every signal, so signals keep going to
 * the caller's threads. If no thread can be made, the helper's function runs
 * to completion inside par_start: slower, same result. */
#define _GNU_SOURCE
#include <signal.h>

#include "netoverlay/internal.h"

static void *par_main(void *p)
{
	struct par_task *t = p;
	struct cmn_err e = CMN_ERR_INIT;
	int rc = t->fn(t->arg, &e);
	pthread_mutex_lock(&t->mu);
	t->rc = rc;
	t->err = e;
	t->ended = true;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

void par_start(struct par_task *t, par_fn fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->rc = 0;
	t->ready = 0;
	t->ended = false;
	t->spawned = false;
	cmn_err_clear(&t->err);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	sigset_t all, old;
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) == 0) {
		t->spawned = pthread_create(&t->thread, NULL, par_main, t) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!t->spawned)
		par_main(t);
}

void par_post(struct par_task *t)
{
	pthread_mutex_lock(&t->mu);
	t->ready++;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

int par_wait(struct par_task *t, size_t count)
{
	pthread_mutex_lock(&t->mu);
	while (t->ready < count && !t->ended)
		pthread_cond_wait(&t->cv, &t->mu);
	bool ok = t->ready >= count;
	pthread_mutex_unlock(&t->mu);
	return ok ? 0 : -1;
}

int par_join(struct par_task *t, struct cmn_err *err)
{
	if (t->spawned)
		pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	if (t->rc < 0) {
		if (err)
			*err = t->err;
		return -1;
	}
	return 0;
}

void par_lock(struct par_task *t)
{
	pthread_mutex_lock(&t->mu);
}

void par_unlock(struct par_task *t)
{
	pthread_mutex_unlock(&t->mu);
}

void par_unlock_notify(struct par_task *t)
{
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void par_sleep(struct par_task *t)
{
	if (!t->ended)
		pthread_cond_wait(&t->cv, &t->mu);
}

bool par_ended(const struct par_task *t)
{
	return t->ended;
}

bool par_failed(const struct par_task *t)
{
	return t->ended && t->rc < 0;
}
