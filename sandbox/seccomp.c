/* sandbox/seccomp.c — loading the syscall filter and naming what it stopped.
 *
 * The programs are the ones cordon-bpfgen compiled from seccomp_policy.c at
 * build time (seccomp_bpf.c in the build dir): no libseccomp work, and no
 * allocation, at container start. The payload loads its profile's program
 * with the raw seccomp() call and a user-notification listener. Syscall
 * names come from the table cordon-bpfgen took from libseccomp, so no
 * binary loads libseccomp.
 */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"

int sbx_filter_get(enum sbx_profile profile, const struct sbx_filter **out, struct cmn_err *err)
{
	static const struct sbx_filter filters[2] = {
		[SBX_PROFILE_TRANSFORM] = { &sbx_bpf_generated[SBX_PROFILE_TRANSFORM] },
		[SBX_PROFILE_UDF] = { &sbx_bpf_generated[SBX_PROFILE_UDF] },
	};
	if (profile != SBX_PROFILE_TRANSFORM && profile != SBX_PROFILE_UDF)
		return cmn_err_set(err, CMN_EINVAL, 0, "unknown seccomp profile %d", (int)profile);
	*out = &filters[profile];
	return 0;
}

int child_seccomp_load(const struct sbx_filter *f, struct cmn_err *err)
{
	int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			      SECCOMP_FILTER_FLAG_NEW_LISTENER, f->prog);
	if (fd < 0)
		return cmn_err_sys(err, "seccomp SECCOMP_SET_MODE_FILTER NEW_LISTENER");
	return fd;
}

void sbx_syscall_name(uint32_t arch, int nr, char *buf, size_t len)
{
	int abi = arch == AUDIT_ARCH_I386 ? SBX_ABI_I386 : SBX_ABI_X86_64;
	const char *prefix = arch == AUDIT_ARCH_I386 ? "i386 " : "";
	if (arch == AUDIT_ARCH_X86_64 && (nr & SBX_X32_BIT)) {
		abi = SBX_ABI_X32;
		prefix = "x32 ";
		nr &= ~SBX_X32_BIT;
	}
	const char *name = "unknown";
	if (nr >= 0 && nr < SBX_SYSCALL_TABLE_LEN && sbx_syscall_off[abi][nr])
		name = sbx_syscall_blob + sbx_syscall_off[abi][nr];
	snprintf(buf, len, "%s%s", prefix, name);
}
