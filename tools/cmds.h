/* tools/cmds.h — the cordon CLI's subcommands. Each lives in its own file
 * (cmd_<name>.c) and gets argv starting at its own name (argv[0] = "sandbox"). */
#ifndef TOOLS_CMDS_H
#define TOOLS_CMDS_H

int cmd_sandbox(int argc, char **argv);       /* cmd_sandbox.c */
int cmd_udf(int argc, char **argv);           /* cmd_udf.c */
int cmd_overlay(int argc, char **argv);       /* cmd_overlay.c */
int cmd_whoami(int argc, char **argv);        /* cmd_api.c */
int cmd_sql(int argc, char **argv);           /* cmd_api.c */
int cmd_admin(int argc, char **argv);         /* cmd_admin.c */
int cmd_admin_storage(int argc, char **argv); /* cmd_storage.c, reached as `admin storage` */
/* cmd_storage_api.c: the same through cordond's API (no --data-dir) */
int cmd_admin_storage_api(int argc, char **argv);
int cmd_audit(int argc, char **argv); /* cmd_audit.c */
int cmd_job(int argc, char **argv);   /* cmd_job.c */
/* cmd_job.c: waits for job id (progress on stderr, Ctrl-C cancels) and
 * fills resp->json with {"columns": [names], "rows": [...]}. */
struct cli_config;
struct cli_response;
int follow_job(struct cli_config *cfg, const char *id, struct cli_response *resp);
int cmd_resource(int argc, char **argv); /* cmd_resource.c */
int cmd_table(int argc, char **argv);    /* cmd_table.c: upload/download table data */

#endif
