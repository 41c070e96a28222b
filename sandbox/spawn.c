/* sandbox/spawn.c — placeholder until the container lands (issue 3): every
 * spawn fails with CMN_EUNAVAIL, so nothing can run "isolated" by accident. */
#include "sandbox/sandbox.h"

#include <string.h>

void sbx_spec_init(struct sbx_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->netns_fd = -1;
}

int sbx_spawn(const struct sbx_spec *spec, struct sbx_child **out, struct cmn_err *err)
{
	(void)spec;
	*out = NULL;
	return cmn_err_set(err, CMN_EUNAVAIL, 0, "containers are not available in this build yet");
}

pid_t sbx_child_pid(const struct sbx_child *child)
{
	(void)child;
	return -1;
}

int sbx_wait(struct sbx_child *child, struct sbx_result *result, struct cmn_err *err)
{
	(void)child;
	memset(result, 0, sizeof(*result));
	return cmn_err_set(err, CMN_EUNAVAIL, 0, "containers are not available in this build yet");
}

int sbx_kill(struct sbx_child *child, struct cmn_err *err)
{
	(void)child;
	return cmn_err_set(err, CMN_EUNAVAIL, 0, "containers are not available in this build yet");
}

const char *sbx_end_name(enum sbx_end end)
{
	(void)end;
	return "unknown";
}

void sbx_describe_end(const struct sbx_result *r, const struct sbx_limits *l, char *buf, size_t len)
{
	(void)r;
	(void)l;
	if (len)
		buf[0] = '\0';
}
