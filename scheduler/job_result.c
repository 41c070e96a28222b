/* scheduler/job_result.c — a job's result rows, kept in a memfd.
 *
 * The kept results of finished jobs add up to --results-memory (1 GiB by
 * default). On cordond's heap they made every container start slower: the
 * sandbox clones cordond, and a clone copies the page tables of everything
 * cordond has mapped (and then takes copy-on-write faults and TLB
 * shootdowns in every thread that writes). A 4-node job took 40 ms with
 * nothing kept and 100-140 ms once 270 MB of results were. In a memfd the
 * bytes are the same memory (tmpfs), but unmapped: they are mapped for the
 * length of one walk (a result page, a commit) and unmapped again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scheduler/job_int.h"

int job_result_add(struct job_result *r, const void *batch, uint32_t len, uint32_t nrows,
		   struct cmn_err *err)
{
	const uint8_t *p = batch;
	size_t done = 0;

	if (r->fd < 0) {
		r->fd = memfd_create("cordon-job-result", MFD_CLOEXEC);
		if (r->fd < 0)
			return cmn_err_sys(err, "memfd_create job result");
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct job_rbatch *nv = reallocarray(r->v, cap, sizeof(*nv));
		if (!nv)
			return cmn_err_set(err, CMN_ENOMEM, 0, "out of memory");
		r->v = nv;
		r->cap = cap;
	}
	while (done < len) {
		ssize_t w = pwrite(r->fd, p + done, len - done, (off_t)(r->len + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cmn_err_sys(err, "write job result (%u bytes)", len);
		done += (size_t)w;
	}
	r->v[r->n++] = (struct job_rbatch){ r->len, len, nrows };
	r->len += len;
	return 0;
}

int job_result_map(const struct job_result *r, const uint8_t **base, struct cmn_err *err)
{
	void *m;

	*base = NULL;
	if (r->len == 0)
		return 0;
	m = mmap(NULL, r->len, PROT_READ, MAP_SHARED, r->fd, 0);
	if (m == MAP_FAILED)
		return cmn_err_sys(err, "mmap job result (%llu bytes)", (unsigned long long)r->len);
	*base = m;
	return 0;
}

void job_result_unmap(const struct job_result *r, const uint8_t *base)
{
	void *m;

	if (!base)
		return;
	memcpy(&m, &base, sizeof(m)); /* munmap takes no const pointer */
	munmap(m, r->len);
}

void job_result_free(struct job_result *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->v);
	*r = (struct job_result){ .fd = -1 };
}
