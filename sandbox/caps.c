/* sandbox/caps.c — capabilities and the process flags that go with them.
 *
 * Raw capget/capset (libcap allocates, and these run in a child cloned from a
 * possibly multithreaded caller). The payload ends with every set empty:
 * bounding (so no execve can regain one), ambient, inheritable, permitted,
 * effective; securebits locked so that uid changes cannot bring any back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"

static int capset_all(uint32_t mask_lo, uint32_t mask_hi, struct cmn_err *err)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = mask_lo;
	data[1].effective = data[1].permitted = mask_hi;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return cmn_err_sys(err, "capset");
	return 0;
}

/* After child_become_inner(): the permitted set survived the uid change
 * (KEEPCAPS) but effective was cleared; the setup needs it back. */
int child_raise_effective(struct cmn_err *err)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return cmn_err_sys(err, "capget");
	return capset_all(data[0].permitted, data[1].permitted, err);
}

int child_drop_caps(struct cmn_err *err)
{
	/* Bounding set first: dropping it needs CAP_SETPCAP, which goes next. */
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return cmn_err_sys(err, "prctl PR_CAPBSET_DROP %d", cap);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return cmn_err_sys(err, "prctl PR_CAP_AMBIENT_CLEAR_ALL");
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return cmn_err_sys(err, "prctl PR_SET_SECUREBITS");
	return capset_all(0, 0, err);
}

int child_no_new_privs(struct cmn_err *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cmn_err_sys(err, "prctl PR_SET_NO_NEW_PRIVS");
	/* Not dumpable: no core, and /proc/<pid>/{mem,environ,fd} of the init
	 * stay closed to the payload even though both run as the same uid. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return cmn_err_sys(err, "prctl PR_SET_DUMPABLE 0");
	return 0;
}
