/* scheduler/ — cordond.
 *
 * Responsibility: the HTTPS API, SigV4 authentication, the catalog,
 * authorization (one decision function), SQL compilation and planning, the
 * job lifecycle, and the audit log. Never runs user code in its own address
 * space. See docs/api.md and docs/security-model.md.
 */
#ifndef SCH_SCHEDULER_H
#define SCH_SCHEDULER_H

#include <stdio.h>

void sch_print_deps(FILE *out);

#endif
