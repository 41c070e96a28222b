/* runtime/lua_net.c — net.connect(host, port) for jobs with a network grant.
 *
 * Present in the environment only when the job holds a grant: what the node
 * can reach is decided outside, by the overlay's nftables rules for the
 * granted destinations; this file only gives Lua a TCP client. Hosts are IP
 * literals (there is no resolver inside a node). Every socket is
 * SOCK_CLOEXEC with send/receive timeouts, and is closed by its userdata's
 * __gc/__close (C finalizers, not user code).
 */
#define _GNU_SOURCE
#include "runtime/lua_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char CONN_MT[] = "cordon.net.conn";
#define NET_TIMEOUT_S 10
#define NET_MAX_READ (1u << 20)

struct conn {
	int fd;
};

static struct conn *check_conn(lua_State *L)
{
	struct conn *c = luaL_checkudata(L, 1, CONN_MT);
	if (c->fd < 0)
		luaL_error(L, "net: connection is closed");
	return c;
}

static int conn_close(lua_State *L)
{
	struct conn *c = luaL_checkudata(L, 1, CONN_MT);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	return 0;
}

static int conn_send(lua_State *L)
{
	struct conn *c = check_conn(L);
	size_t len, off = 0;
	const char *s = luaL_checklstring(L, 2, &len);

	rt_lua_check_tripped(L);
	while (off < len) {
		ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lua_pushnil(L);
			lua_pushstring(L, strerror(errno));
			return 2;
		}
		off += (size_t)n;
	}
	lua_pushinteger(L, (lua_Integer)len);
	return 1;
}

/* receive([max]): up to max bytes (default 64K), nil at end of stream. */
static int conn_receive(lua_State *L)
{
	struct conn *c = check_conn(L);
	lua_Integer max = luaL_optinteger(L, 2, 65536);
	luaL_Buffer b;
	ssize_t n;
	char *p;

	luaL_argcheck(L, max > 0 && max <= NET_MAX_READ, 2, "must be 1..1048576");
	rt_lua_check_tripped(L);
	p = luaL_buffinitsize(L, &b, (size_t)max);
	do {
		n = recv(c->fd, p, (size_t)max, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		lua_pushnil(L);
		lua_pushstring(L, strerror(errno));
		return 2;
	}
	if (n == 0) {
		lua_pushnil(L);
		return 1;
	}
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

static int net_connect(lua_State *L)
{
	const char *host = luaL_checkstring(L, 1);
	lua_Integer port = luaL_checkinteger(L, 2);
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv = { NET_TIMEOUT_S, 0 };
	struct conn *c;
	int fd, rc;

	luaL_argcheck(L, port > 0 && port < 65536, 2, "port must be 1..65535");
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return luaL_error(L, "net.connect: '%s' is not an IP address", host);
	}
	rt_lua_check_tripped(L);
	c = lua_newuserdatauv(L, sizeof(*c), 0);
	c->fd = -1;
	luaL_setmetatable(L, CONN_MT);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return luaL_error(L, "net.connect: socket: %s", strerror(errno));
	c->fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	do {
		rc = connect(fd, (struct sockaddr *)&ss, sl);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		int e = errno;
		close(fd);
		c->fd = -1;
		lua_pushnil(L);
		/* SO_SNDTIMEO ends a blocking connect with EINPROGRESS: a
		 * destination outside the grant is dropped, never refused */
		lua_pushfstring(L, "net.connect %s:%d: %s", host, (int)port,
				e == EINPROGRESS || e == EAGAIN ? "connection timed out"
								: strerror(e));
		return 2;
	}
	return 1;
}

void rt_net_open(lua_State *L, int base)
{
	static const luaL_Reg methods[] = { { "send", conn_send },
					    { "receive", conn_receive },
					    { "close", conn_close },
					    { NULL, NULL } };

	luaL_newmetatable(L, CONN_MT);
	lua_pushcfunction(L, conn_close);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, conn_close);
	lua_setfield(L, -2, "__close");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);

	lua_newtable(L);
	lua_pushcfunction(L, net_connect);
	lua_setfield(L, -2, "connect");
	lua_setfield(L, base, "net");
}
