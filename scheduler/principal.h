/* scheduler/principal.h — who is calling: the result of authentication,
 * the input of authorization. Names follow SQL.md: ALIYUN$<account> for an
 * account, RAM$<account>:<user> for a RAM user, RAM$<account>:role/<r> for
 * an assumed RAM role. Shared contract of api/auth and authz. */
#ifndef SCH_PRINCIPAL_H
#define SCH_PRINCIPAL_H

#include <stdbool.h>

enum sch_principal_type {
	SCH_PRINCIPAL_ACCOUNT = 0,
	SCH_PRINCIPAL_USER,
	SCH_PRINCIPAL_ROLE,
};

struct sch_principal {
	char name[256];    /* ALIYUN$acme, RAM$acme:alice, RAM$acme:role/etl */
	char account[128]; /* acme */
	enum sch_principal_type type;
	bool super_admin; /* a Cordon operator (system administrator) */
	char access_key_id[64];
};

#endif
