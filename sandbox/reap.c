/* sandbox/reap.c — cordon-reap: what a container's init becomes once the
 * payload is forked (spawn.c, init step 10).
 *
 * The init is a clone of the caller. Were it to stay that clone while the
 * payload runs, every page of the caller's memory would stay shared
 * copy-on-write with it: each first write by cordond to one of its pages
 * during a job copies the page and shoots down the TLB on every CPU
 * (inter-processor interrupts, costly in a VM), and each page so written
 * exists twice. So the init execs this program instead, from a sealed
 * memfd whose mode lets it execute but not read it (execve then leaves the
 * process non-dumpable, as the init was: /proc/1/{mem,environ,...} stay
 * closed to the payload, which runs as the same uid).
 *
 * Freestanding (no libc: a few hundred bytes, an execve costs ~0.1 ms):
 *   argv[1] the socket to the caller, argv[2] the payload's pid.
 * It reaps every child (it is pid 1 of the container's pid namespace) and,
 * when the payload ends, sends the caller MSG_STATUS with its wait status,
 * then exits; the kernel then kills whatever else is left in the pid ns.
 * Exit codes as in spawn.c's init_reap: 125 wait failed, 124 send failed.
 *
 * Built by sandbox/CMakeLists.txt with its own flags (never the build's
 * sanitizer or coverage flags: there is no runtime for them here). */

#define SYS_SENDTO 44
#define SYS_WAIT4 61
#define SYS_PRCTL 157
#define SYS_EXIT_GROUP 231
#define PR_SET_DUMPABLE 4
#define EINTR 4
#define MSG_NOSIGNAL 0x4000
#define MSG_STATUS 5 /* enum in sandbox/internal.h; reap_image.c checks they agree */

static long sys4(long n, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static __attribute__((noreturn)) void die(int code)
{
	for (;;)
		sys4(SYS_EXIT_GROUP, code, 0, 0, 0);
}

static long number(const char *s)
{
	long v = 0;
	if (!s || !*s)
		die(126);
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			die(126);
		v = v * 10 + (*s - '0');
	}
	return v;
}

__attribute__((noreturn, used)) void reap_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	sys4(SYS_PRCTL, PR_SET_DUMPABLE, 0, 0, 0);
	if (argc != 3)
		die(126);
	long sock = number(argv[1]), payload = number(argv[2]);
	for (;;) {
		int status = 0;
		long p = sys4(SYS_WAIT4, -1, (long)&status, 0, 0);
		if (p == -EINTR)
			continue;
		if (p < 0)
			die(125);
		if (p == payload) {
			int msg[2] = { MSG_STATUS, status };
			if (sys6(SYS_SENDTO, sock, (long)msg, sizeof(msg), MSG_NOSIGNAL, 0, 0) !=
			    (long)sizeof(msg))
				die(124);
			die(0);
		}
	}
}

__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"\txor %rbp, %rbp\n"
	"\tmov %rsp, %rdi\n"
	"\tand $-16, %rsp\n"
	"\tcall reap_main\n"
	"\thlt\n");
